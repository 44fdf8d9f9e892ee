-- purpose: one row per output blob of a workflow with the job, provider and moderation outcome (nsfw level, blocked reason).
-- grain: workflow_id, blob_id
-- job_id is the blob's jobId, else the job of its step when the step ran exactly one (set by the flattening).
-- json_path is where the blob sits in its step's output, e.g. $.images[0] or $.epochs[0].samples[1].
-- columns:
--   is_blocked: The blob carries a blocked reason.
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

final as (
    select
        blobs.workflow_id,
        blobs.blob_id,
        blobs.step_name,
        blobs.job_id,
        blobs.window_date,
        workflows.user_id,
        jobs.provider,
        steps.step_type,
        blobs.json_path,
        blobs.blob_type,
        blobs.available,
        blobs.nsfw_level,
        blobs.blocked_reason,
        blobs.blocked_reason is not null as is_blocked,
        blobs.width,
        blobs.height,
        blobs.duration_seconds,
        blobs.format
    from blobs
    left join jobs on jobs.job_id = blobs.job_id
    left join steps
        on steps.workflow_id = blobs.workflow_id and steps.step_name = blobs.step_name
    left join workflows on workflows.workflow_id = blobs.workflow_id
)

select * from final
