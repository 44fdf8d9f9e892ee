-- purpose: jobs as embedded in workflow steps, one row per job id, with statuses lower-cased.
-- grain: job_id
-- reason and blocked_reason are what the workflow says about the job; int_jobs adds the v1 job's.
with

source as (
    select * from jobs
),

deduped as (
    select *
    from source
    qualify row_number() over (
        partition by job_id order by window_date desc, workflow_id, step_name
    ) = 1
),

final as (
    select
        job_id,
        workflow_id,
        step_name,
        window_date,
        job_index,
        lower(status) as status,
        cost,
        started_at,
        completed_at,
        queue_support,
        queue_preceding_jobs,
        queue_start_at,
        queue_complete_at,
        nullif(trim(reason), '') as reason,
        nullif(trim(blocked_reason), '') as blocked_reason
    from deduped
)

select * from final
