-- purpose: the jobs embedded in workflows, with the enrichment of their v1 lookup (NULL until a job is looked up).
-- grain: job_id
-- The lake keeps the two apart (`lake.jobs` from the workflow pages, `lake.job_details` from
-- the v1 job endpoint, each replaced with its window); analysts want them as one table.
with

jobs as (
    select * from lake.jobs
),

details as (
    select * from lake.job_details
),

final as (
    select
        jobs.*,
        details.job_type,
        details.provider,
        details.worker_id,
        details.last_event_type,
        details.last_event_at,
        details.is_final,
        details.retry_attempt,
        details.job_duration_seconds,
        details.prompt_sexual,
        details.prompt_young,
        details.prompt_cr,
        details.prompt_scan,
        details.context_json,
        details.csam_score_max,
        details.fetched_at as enriched_at
    from jobs
    left join details
        on details.job_id = jobs.job_id
        and details.window_date = jobs.window_date
)

select * from final
