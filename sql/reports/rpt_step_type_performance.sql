-- purpose: how each step type performs over the synced period: volume, failure ratio, run and queue times.
-- grain: step_type
-- duration = completed_at - started_at; queue = started_at - the workflow's created_at.
-- columns:
--   step_type: The step type; '(unknown)' for steps without one.
--   first_day: The first UTC day with a step of the type.
--   last_day: The last UTC day with a step of the type.
--   steps: Steps of the type.
--   workflows: Distinct workflows with such a step.
--   succeeded: Steps that succeeded.
--   failed: Steps that failed or expired.
--   canceled: Steps that were canceled.
--   failure_ratio: failed / (succeeded + failed). NULL: none finished either way. [ratio 0-1]
--   jobs: Jobs of those steps.
--   duration_p50_seconds: Median step duration. NULL: no step finished. [seconds]
--   duration_p95_seconds: 95th percentile of the step duration. NULL: no step finished. [seconds]
--   queue_p50_seconds: Median time from the workflow's creation to the step's start. NULL: no step started.
--       [seconds]
--   queue_p95_seconds: 95th percentile of that queue time. NULL: no step started. [seconds]
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
            / nullif(count(*) filter (where is_succeeded or is_failed), 0) as failure_ratio,
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
