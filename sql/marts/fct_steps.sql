-- purpose: one row per workflow step with its outcome, duration and the outcome of its jobs.
-- grain: workflow_id, step_name
-- timeout is as the API sent it (TimeSpan or ISO-8601 duration), timeout_seconds its reading.
-- A step failed when its status is failed or expired (canceled is the caller's choice, not a failure).
-- columns:
--   is_finished: The step's status is final (is_final_status: succeeded, failed, expired, canceled or deleted).
--   is_succeeded: The step succeeded.
--   is_failed: The step failed or expired.
--   workflow_created_at: When the step's workflow was created (UTC).
--   duration_seconds: How long the step ran: completed_at - started_at. NULL: not started or not finished.
--       [seconds]
--   queue_seconds: From the workflow's creation to the step's start: started_at - the workflow's created_at.
--       NULL: the step has not started. [seconds]
--   jobs: Jobs of the step in the lake (0: none listed).
--   jobs_succeeded: Of those, the jobs that succeeded.
--   jobs_failed: Of those, the jobs that failed or expired.
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
        is_final_status(steps.status) as is_finished,
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
