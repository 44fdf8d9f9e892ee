-- purpose: reliability of each provider over the synced period: jobs, failures, failure rate, job durations.
-- grain: provider
-- failed = failed or expired jobs; failure_rate = failed / (succeeded + failed): canceled and running
-- jobs are left out. duration = the v1 jobDuration, else completed_at - started_at.
with

jobs as (
    select * from fct_jobs
),

final as (
    select
        coalesce(provider, '(unknown)') as provider,
        min(window_date) as first_day,
        max(window_date) as last_day,
        count(*) as jobs,
        count(*) filter (where is_succeeded) as succeeded,
        count(*) filter (where is_failed) as failed,
        count(*) filter (where is_failed)
            / nullif(count(*) filter (where is_succeeded or is_failed), 0) as failure_rate,
        count(distinct worker_id) as workers,
        quantile_cont(duration_seconds, 0.5) as duration_p50_seconds,
        quantile_cont(duration_seconds, 0.95) as duration_p95_seconds,
        avg(retry_attempt) as retry_attempt_avg
    from jobs
    group by all
)

select * from final
order by jobs desc, provider
