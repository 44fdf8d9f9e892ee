-- purpose: daily usage: workflows by outcome, success ratio, users, net Buzz spent, latency and queue-time percentiles.
-- grain: day
-- Workflows in any status other than the final ones (still running, or an unknown status) count in workflows and
-- in_progress only. rpt_buzz_daily splits the Buzz by account type.
-- columns:
--   day: The UTC day of the workflows' creation.
--   workflows: Workflows created that day.
--   succeeded: Of those, the ones that succeeded.
--   failed: Of those, the ones that failed.
--   expired: Of those, the ones that expired.
--   canceled: Of those, the ones that were canceled.
--   in_progress: Of those, the ones not in a final status yet (or in an unknown status).
--   finished: succeeded + failed + expired + canceled.
--   success_ratio: succeeded / finished. NULL: none finished. [ratio 0-1]
--   users: Distinct users (workflows without a user not counted).
--   steps: Steps of the day's workflows.
--   jobs: Jobs of the day's workflows.
--   buzz_debit: Sum of the debits over every account type. [Buzz]
--   buzz_credit: Sum of the credits (refunds) over every account type. [Buzz]
--   buzz_net: Buzz spent net of refunds: buzz_debit - buzz_credit. [Buzz]
--   latency_p50_seconds: Median time from creation to completion (completed_at - created_at) of the workflows
--       that completed. NULL: none completed. [seconds]
--   latency_p95_seconds: 95th percentile of that latency. NULL: none completed. [seconds]
--   queue_p50_seconds: Median time from creation to start (started_at - created_at). NULL: none started.
--       [seconds]
--   queue_p95_seconds: 95th percentile of that queue time. NULL: none started. [seconds]
with

workflows as (
    select * from fct_workflows
),

transactions as (
    select * from fct_transactions
),

workflow_stats as (
    select
        window_date as day,
        count(*) as workflows,
        count(*) filter (where status = 'succeeded') as succeeded,
        count(*) filter (where status = 'failed') as failed,
        count(*) filter (where status = 'expired') as expired,
        count(*) filter (where status = 'canceled') as canceled,
        count(*) filter (where not is_finished) as in_progress,
        count(*) filter (where is_finished) as finished,
        count(distinct user_id) as users,
        sum(steps)::bigint as steps,
        sum(jobs)::bigint as jobs,
        quantile_cont(latency_seconds, 0.5) as latency_p50_seconds,
        quantile_cont(latency_seconds, 0.95) as latency_p95_seconds,
        quantile_cont(queue_seconds, 0.5) as queue_p50_seconds,
        quantile_cont(queue_seconds, 0.95) as queue_p95_seconds
    from workflows
    group by window_date
),

buzz as (
    select
        window_date as day,
        coalesce(sum(amount_buzz) filter (where txn_type = 'debit'), 0)::bigint as buzz_debit,
        coalesce(sum(amount_buzz) filter (where txn_type = 'credit'), 0)::bigint as buzz_credit
    from transactions
    group by window_date
),

final as (
    select
        workflow_stats.day,
        workflow_stats.workflows,
        workflow_stats.succeeded,
        workflow_stats.failed,
        workflow_stats.expired,
        workflow_stats.canceled,
        workflow_stats.in_progress,
        workflow_stats.finished,
        workflow_stats.succeeded / nullif(workflow_stats.finished, 0) as success_ratio,
        workflow_stats.users,
        workflow_stats.steps,
        workflow_stats.jobs,
        coalesce(buzz.buzz_debit, 0) as buzz_debit,
        coalesce(buzz.buzz_credit, 0) as buzz_credit,
        coalesce(buzz.buzz_debit, 0) - coalesce(buzz.buzz_credit, 0) as buzz_net,
        workflow_stats.latency_p50_seconds,
        workflow_stats.latency_p95_seconds,
        workflow_stats.queue_p50_seconds,
        workflow_stats.queue_p95_seconds
    from workflow_stats
    left join buzz using (day)
)

select * from final
order by day
