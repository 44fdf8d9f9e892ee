-- purpose: every moderation scan value with the job's day, provider, step type and user, for slicing by label.
-- grain: job_id, score_name, item_index
-- score_pct is a percent (0-100): bare 0-1 probabilities were scaled when the lake was written.
with

scan_scores as (
    select * from stg_scan_scores
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
        scan_scores.job_id,
        scan_scores.score_name,
        scan_scores.item_index,
        scan_scores.workflow_id,
        scan_scores.window_date,
        workflows.user_id,
        jobs.provider,
        steps.step_type,
        scan_scores.blob_id,
        scan_scores.score_pct,
        scan_scores.label,
        scan_scores.value_text
    from scan_scores
    left join jobs using (job_id)
    left join steps on steps.workflow_id = jobs.workflow_id and steps.step_name = jobs.step_name
    left join workflows on workflows.workflow_id = scan_scores.workflow_id
)

select * from final
