-- purpose: every job a moderator must review: its highest hive_csam_score is at or above the csam_threshold parameter.
-- grain: job_id
-- materialized: incremental
-- Newest first.
-- columns:
--   day: The UTC day of the job's workflow's creation.
--   created_at: When the job's workflow was created (UTC).
--   csam_threshold_pct: The threshold the job was flagged at (the csam_threshold parameter). [percent 0-100]
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
        jobs.csam_score_max_pct,
        jobs.csam_scores_pct,
        jobs.vlm_labels,
        jobs.prompt_classification,
        jobs.is_prompt_classified,
        jobs.prompt_sexual,
        jobs.prompt_young,
        jobs.prompt_cr,
        jobs.prompt_scan,
        jobs.prompt,
        settings.csam_threshold as csam_threshold_pct
    from jobs
    cross join settings
    where jobs.csam_score_max_pct >= settings.csam_threshold
)

select * from final
order by created_at desc, job_id
