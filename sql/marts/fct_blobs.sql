-- purpose: one row per output blob with the job, provider and moderation outcome (nsfw level, blocked reason).
-- grain: blob_id
-- Output blobs often arrive without a jobId; when their step ran exactly one job, that job made them.
with

blobs as (
    select * from stg_blobs
),

jobs as (
    select * from stg_jobs
),

steps as (
    select * from stg_steps
),

workflows as (
    select * from stg_workflows
),

single_job_steps as (
    select
        workflow_id,
        step_name,
        any_value(job_id) as job_id
    from jobs
    group by workflow_id, step_name
    having count(*) = 1
),

resolved as (
    select
        blobs.*,
        coalesce(blobs.job_id, single_job_steps.job_id) as resolved_job_id
    from blobs
    left join single_job_steps using (workflow_id, step_name)
),

final as (
    select
        resolved.blob_id,
        resolved.workflow_id,
        resolved.step_name,
        resolved.resolved_job_id as job_id,
        resolved.window_date,
        workflows.user_id,
        jobs.provider,
        steps.step_type,
        resolved.output_key,
        resolved.item_index,
        resolved.blob_type,
        resolved.available,
        resolved.nsfw_level,
        resolved.blocked_reason,
        resolved.blocked_reason is not null as is_blocked,
        resolved.width,
        resolved.height,
        resolved.duration
    from resolved
    left join jobs on jobs.job_id = resolved.resolved_job_id
    left join steps
        on steps.workflow_id = resolved.workflow_id and steps.step_name = resolved.step_name
    left join workflows on workflows.workflow_id = resolved.workflow_id
)

select * from final
