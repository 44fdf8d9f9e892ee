-- purpose: one row per workflow step with its outcome, duration and the outcome of its jobs.
-- grain: workflow_id, step_name
-- timeout is as the API sent it (TimeSpan or ISO-8601 duration), timeout_seconds its reading.
-- duration_seconds = completed_at - started_at; queue_seconds = started_at - the workflow's created_at.
-- A step failed when its status is failed or expired (canceled is the caller's choice, not a failure).
with

steps as (
    select * from stg_steps
),

workflows as (
    select * from stg_workflows
),

jobs as (
    select * from stg_jobs
),

job_summary as (
    select
        workflow_id,
        step_name,
        count(*) as jobs,
        count(*) filter (where status = 'succeeded') as jobs_succeeded,
        count(*) filter (where status in ('failed', 'expired')) as jobs_failed
    from jobs
    group by workflow_id, step_name
),

final as (
    select
        steps.workflow_id,
        steps.step_name,
        steps.step_index,
        steps.window_date,
        workflows.user_id,
        steps.step_type,
        steps.status,
        steps.status in ('succeeded', 'failed', 'expired', 'canceled') as is_finished,
        steps.status = 'succeeded' as is_succeeded,
        steps.status in ('failed', 'expired') as is_failed,
        steps.priority,
        workflows.created_at as workflow_created_at,
        steps.started_at,
        steps.completed_at,
        epoch(steps.completed_at - steps.started_at) as duration_seconds,
        epoch(steps.started_at - workflows.created_at) as queue_seconds,
        coalesce(job_summary.jobs, 0) as jobs,
        coalesce(job_summary.jobs_succeeded, 0) as jobs_succeeded,
        coalesce(job_summary.jobs_failed, 0) as jobs_failed,
        steps.model,
        steps.engine,
        steps.width,
        steps.height,
        steps.quantity,
        steps.retries,
        steps.timeout,
        steps.timeout_seconds
    from steps
    left join workflows on workflows.workflow_id = steps.workflow_id
    left join job_summary
        on job_summary.workflow_id = steps.workflow_id and job_summary.step_name = steps.step_name
)

select * from final
