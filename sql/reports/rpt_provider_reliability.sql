-- purpose: reliability of each provider over the synced period: jobs, failures, failure ratio, job durations.
-- grain: provider
-- Canceled and running jobs count in jobs only. duration = the v1 jobDuration, else completed_at - started_at.
-- columns:
--   provider: The provider; '(unknown)' holds jobs without one (not enriched yet, or never claimed).
--   first_day: The first UTC day with a job of the provider.
--   last_day: The last UTC day with a job of the provider.
--   jobs: Jobs the provider ran.
--   succeeded: Of those, the ones that succeeded.
--   failed: Of those, the ones that failed or expired.
--   failure_ratio: failed / (succeeded + failed). NULL: none finished either way. [ratio 0-1]
--   workers: Distinct workers of the provider.
--   duration_p50_seconds: Median job duration. NULL: no job with a known duration. [seconds]
--   duration_p95_seconds: 95th percentile of the job duration. NULL: no job with a known duration. [seconds]
--   retry_attempt_avg: Average retry attempt of the jobs' last events (0 = first try). NULL: none known.
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
            / nullif(count(*) filter (where is_succeeded or is_failed), 0) as failure_ratio,
        count(distinct worker_id) as workers,
        quantile_cont(duration_seconds, 0.5) as duration_p50_seconds,
        quantile_cont(duration_seconds, 0.95) as duration_p95_seconds,
        avg(retry_attempt) as retry_attempt_avg
    from jobs
    group by all
)

select * from final
order by jobs desc, provider
