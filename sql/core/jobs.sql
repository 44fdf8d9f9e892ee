-- purpose: the jobs embedded in workflows, with the enrichment of their v1 lookup (NULL until a job is looked up).
-- grain: job_id
-- The lake keeps the two apart (`lake.jobs` from the workflow pages, `lake.job_details` from
-- the v1 job endpoint, each replaced with its window); analysts want them as one table.
-- reason / blocked_reason: the workflow's own word on the job when it gives one, else the v1
-- event context's (where the service actually says why a job failed or was blocked).
with

jobs as (
    select * from lake.jobs
),

details as (
    select * from lake.job_details
),

final as (
    select
        jobs.* replace (
            coalesce(jobs.reason, details.reason) as reason,
            coalesce(jobs.blocked_reason, details.blocked_reason) as blocked_reason
        ),
        details.job_type,
        details.provider,
        details.service_providers,
        details.worker_id,
        details.priority,
        details.last_event_type,
        details.last_event_at,
        details.is_final,
        details.retry_attempt,
        details.job_duration_seconds,
        details.prompt_sexual,
        details.prompt_young,
        details.prompt_cr,
        details.prompt_scan,
        details.params_json,
        details.context_json,
        details.csam_score_max,
        details.fetched_at as enriched_at
    from jobs
    left join details
        on details.job_id = jobs.job_id
        and details.window_date = jobs.window_date
)

select * from final
