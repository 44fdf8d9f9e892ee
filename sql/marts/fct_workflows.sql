-- purpose: one row per workflow with its outcome, step mix, job count, timings and net Buzz spend.
-- grain: workflow_id
-- A workflow is finished when its status is final (is_final_status: succeeded, failed, expired, canceled, deleted).
-- Buzz comes from the transaction list, not cost.total: a refund is a credit that cancels a debit.
-- columns:
--   is_finished: The workflow's status is final (is_final_status: succeeded, failed, expired, canceled or deleted).
--   is_succeeded: The workflow succeeded.
--   latency_seconds: From creation to completion: completed_at - created_at. NULL: not finished. [seconds]
--   queue_seconds: From creation to start: started_at - created_at. NULL: not started. [seconds]
--   steps: Steps of the workflow in the lake (0: none listed).
--   step_types: The workflow's step types in step order joined with '+', e.g. 'imageGen+imageUpscaler'. NULL:
--       the workflow lists no step.
--   jobs: Jobs of the workflow's steps in the lake (0: none).
--   buzz_debit: Sum of the workflow's debit transactions (0: none). [Buzz]
--   buzz_credit: Sum of its credit (refund) transactions (0: none). [Buzz]
--   buzz_net: Buzz spent net of refunds: buzz_debit - buzz_credit. [Buzz]
with

workflows as (
    select * from stg_workflows
),

steps as (
    select * from stg_steps
),

jobs as (
    select * from stg_jobs
),

transactions as (
    select * from stg_transactions
),

step_summary as (
    select
        workflow_id,
        count(*) as steps,
        string_agg(step_type, '+' order by step_index, step_name) as step_types
    from steps
    group by workflow_id
),

job_summary as (
    select
        workflow_id,
        count(*) as jobs
    from jobs
    group by workflow_id
),

buzz as (
    select
        workflow_id,
        coalesce(sum(amount_buzz) filter (where txn_type = 'debit'), 0)::bigint as buzz_debit,
        coalesce(sum(amount_buzz) filter (where txn_type = 'credit'), 0)::bigint as buzz_credit
    from transactions
    group by workflow_id
),

final as (
    select
        workflows.workflow_id,
        workflows.window_date,
        workflows.user_id,
        workflows.status,
        is_final_status(workflows.status) as is_finished,
        workflows.status = 'succeeded' as is_succeeded,
        workflows.created_at,
        workflows.started_at,
        workflows.completed_at,
        epoch(workflows.completed_at - workflows.created_at) as latency_seconds,
        epoch(workflows.started_at - workflows.created_at) as queue_seconds,
        coalesce(step_summary.steps, 0) as steps,
        step_summary.step_types,
        coalesce(job_summary.jobs, 0) as jobs,
        workflows.nsfw_level,
        workflows.tags,
        workflows.currencies,
        workflows.cost_base_buzz,
        workflows.cost_total_buzz,
        workflows.cost_factors_json,
        workflows.cost_fees_json,
        workflows.lost_blobs_refund_buzz,
        coalesce(buzz.buzz_debit, 0) as buzz_debit,
        coalesce(buzz.buzz_credit, 0) as buzz_credit,
        coalesce(buzz.buzz_debit, 0) - coalesce(buzz.buzz_credit, 0) as buzz_net,
        workflows.force_refunded,
        workflows.deleted_at
    from workflows
    left join step_summary on step_summary.workflow_id = workflows.workflow_id
    left join job_summary on job_summary.workflow_id = workflows.workflow_id
    left join buzz on buzz.workflow_id = workflows.workflow_id
)

select * from final
