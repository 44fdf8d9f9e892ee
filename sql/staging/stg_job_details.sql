-- purpose: outcome of each v1 job lookup: found or 404, fetch time, claim duration.
-- grain: job_id
with

source as (
    select * from job_details
),

deduped as (
    select *
    from source
    qualify row_number() over (
        partition by job_id order by fetched_at desc nulls last, window_date desc
    ) = 1
),

final as (
    select
        job_id,
        workflow_id,
        window_date,
        fetched_at,
        found,
        claim_duration_seconds,
        prompt_classification_json,
        result_json
    from deduped
)

select * from final
