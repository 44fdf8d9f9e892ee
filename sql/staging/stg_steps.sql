-- purpose: workflow steps, one row per (workflow, step name), with the step `$type` as step_type.
-- grain: workflow_id, step_name
-- Statuses and priorities are lower-cased.
with

source as (
    select * from steps
),

deduped as (
    select *
    from source
    qualify row_number() over (
        partition by workflow_id, step_name order by window_date desc
    ) = 1
),

final as (
    select
        workflow_id,
        step_name,
        window_date,
        step_index,
        step_type,
        lower(status) as status,
        lower(priority) as priority,
        started_at,
        completed_at,
        timeout,
        timeout_seconds,
        retries,
        prompt,
        negative_prompt,
        model,
        engine,
        width,
        height,
        quantity,
        seed,
        job_count,
        input_json,
        output_json,
        metadata_json
    from deduped
)

select * from final
