-- purpose: outcome of each v1 job lookup: found or 404, provider, last event, priority, prompt classification, reasons.
-- grain: job_id
-- The freshest lookup of a job wins.
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
        job_type,
        provider,
        worker_id,
        last_event_type,
        last_event_at,
        is_final,
        retry_attempt,
        job_duration_seconds,
        claim_duration_seconds,
        cost,
        priority,
        priority_json,
        service_providers,
        nullif(trim(reason), '') as reason,
        nullif(trim(blocked_reason), '') as blocked_reason,
        prompt_sexual,
        prompt_young,
        prompt_cr,
        prompt_scan,
        csam_score_max,
        prompt_classification_json,
        params_json,
        result_json,
        context_json
    from deduped
)

select * from final
