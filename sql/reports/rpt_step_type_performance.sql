-- purpose: how each step type performs over the synced period: volume, failure rate, run and queue times.
-- grain: step_type
-- failed = failed or expired steps; failure_rate = failed / (succeeded + failed).
-- duration = completed_at - started_at; queue = started_at - the workflow's created_at.
with

steps as (
    select * from fct_steps
),

final as (
    select
        coalesce(step_type, '(unknown)') as step_type,
        min(window_date) as first_day,
        max(window_date) as last_day,
        count(*) as steps,
        count(distinct workflow_id) as workflows,
        count(*) filter (where is_succeeded) as succeeded,
        count(*) filter (where is_failed) as failed,
        count(*) filter (where status = 'canceled') as canceled,
        count(*) filter (where is_failed)
            / nullif(count(*) filter (where is_succeeded or is_failed), 0) as failure_rate,
        sum(jobs)::bigint as jobs,
        quantile_cont(duration_seconds, 0.5) as duration_p50_seconds,
        quantile_cont(duration_seconds, 0.95) as duration_p95_seconds,
        quantile_cont(queue_seconds, 0.5) as queue_p50_seconds,
        quantile_cont(queue_seconds, 0.95) as queue_p95_seconds
    from steps
    group by all
)

select * from final
order by steps desc, step_type
