-- purpose: every job a moderator must review: its highest hive_csam_score is at or above the csam_threshold parameter.
-- grain: job_id
-- materialized: incremental
-- Newest first. csam_scores lists the score of each output item (percent), csam_score_max is their
-- maximum; vlm_labels lists the hive_vlm_summary items; created_at is the workflow's creation time.
with

jobs as (
    select * from fct_jobs
),

settings as (
    select cast(getvariable('csam_threshold') as double) as csam_threshold
),

final as (
    select
        jobs.window_date as day,
        jobs.created_at,
        jobs.job_id,
        jobs.workflow_id,
        jobs.user_id,
        jobs.step_name,
        jobs.step_type,
        jobs.provider,
        jobs.status,
        jobs.csam_score_max,
        jobs.csam_scores,
        jobs.vlm_labels,
        jobs.prompt_classification,
        jobs.prompt_sexual,
        jobs.prompt_young,
        jobs.prompt_cr,
        jobs.prompt_scan,
        jobs.prompt,
        settings.csam_threshold
    from jobs
    cross join settings
    where jobs.csam_score_max >= settings.csam_threshold
)

select * from final
order by created_at desc, job_id
