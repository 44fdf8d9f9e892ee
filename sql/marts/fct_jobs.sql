-- purpose: one row per job with its workflow, step type, provider, failure and blocked reasons, prompt classification and CSAM scan scores.
-- grain: job_id
-- csam_scores lists the hive_csam_score of each output item (percent 0-100, item order); csam_score_max is
-- their maximum. A job is scanned when its event context carried a hive_csam_score at all.
-- enrichment_status: enriched (v1 job found), not_found (v1 answered 404), pending (not looked up yet).
with

jobs as (
    select * from stg_jobs
),

job_details as (
    select * from stg_job_details
),

steps as (
    select * from stg_steps
),

workflows as (
    select * from stg_workflows
),

scan_scores as (
    select * from stg_scan_scores
),

csam as (
    select
        job_id,
        max(score) as csam_score_max,
        list(score order by item_index) as csam_scores
    from scan_scores
    where score_name = 'hive_csam_score'
    group by job_id
),

vlm as (
    select
        job_id,
        list(coalesce(label, value_text) order by item_index) as vlm_labels
    from scan_scores
    where score_name = 'hive_vlm_summary'
    group by job_id
),

final as (
    select
        jobs.job_id,
        jobs.workflow_id,
        jobs.step_name,
        jobs.job_index,
        jobs.window_date,
        workflows.user_id,
        workflows.created_at,
        workflows.status as workflow_status,
        steps.step_type,
        jobs.status,
        jobs.status in ('succeeded', 'failed', 'expired', 'canceled') as is_finished,
        jobs.status = 'succeeded' as is_succeeded,
        jobs.status in ('failed', 'expired') as is_failed,
        jobs.reason,
        jobs.blocked_reason,
        jobs.blocked_reason is not null as is_blocked,
        case
            when coalesce(job_details.found, jobs.enriched_at is not null) then 'enriched'
            when job_details.found = false then 'not_found'
            else 'pending'
        end as enrichment_status,
        jobs.job_type,
        jobs.provider,
        jobs.service_providers,
        jobs.worker_id,
        jobs.priority,
        jobs.last_event_type,
        jobs.last_event_at,
        jobs.is_final,
        jobs.retry_attempt,
        jobs.started_at,
        jobs.completed_at,
        coalesce(jobs.job_duration_seconds, epoch(jobs.completed_at - jobs.started_at))
            as duration_seconds,
        epoch(jobs.started_at - workflows.created_at) as queue_seconds,
        jobs.cost,
        jobs.prompt_sexual,
        jobs.prompt_young,
        jobs.prompt_cr,
        jobs.prompt_scan,
        nullif(concat_ws(', ',
            case when jobs.prompt_sexual then 'sexual' end,
            case when jobs.prompt_young then 'young' end,
            case when jobs.prompt_cr then 'cr' end,
            case when jobs.prompt_scan then 'scan' end
        ), '') as prompt_classification,
        csam.job_id is not null or jobs.csam_score_max is not null as is_csam_scanned,
        coalesce(csam.csam_score_max, jobs.csam_score_max) as csam_score_max,
        csam.csam_scores,
        vlm.vlm_labels,
        steps.prompt
    from jobs
    left join job_details on job_details.job_id = jobs.job_id
    left join steps on steps.workflow_id = jobs.workflow_id and steps.step_name = jobs.step_name
    left join workflows on workflows.workflow_id = jobs.workflow_id
    left join csam on csam.job_id = jobs.job_id
    left join vlm on vlm.job_id = jobs.job_id
)

select * from final
