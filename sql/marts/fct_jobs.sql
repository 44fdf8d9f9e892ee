-- purpose: one row per job with its workflow, step type, provider, failure and blocked reasons, prompt classification and CSAM scan scores.
-- grain: job_id
-- A job is scanned when its event context carried a hive_csam_score at all. The enrichment columns are NULL
-- until the job is looked up on the v1 endpoint: enrichment_status says whether it was.
-- columns:
--   workflow_status: The status of the job's workflow (lower-cased).
--   is_finished: The job's status is final (is_final_status: succeeded, failed, expired, canceled or deleted).
--   is_succeeded: The job succeeded.
--   is_failed: The job failed or expired (canceled is the caller's choice, not a failure).
--   is_blocked: The job carries a blocked reason.
--   duration_seconds: How long the job ran: the v1 jobDuration, else completed_at - started_at. NULL: neither is
--       known (not started or not finished, and not enriched). [seconds]
--   queue_seconds: From the workflow's creation to the job's start (started_at - the workflow's created_at).
--       NULL: the job has not started. [seconds]
--   prompt_classification: The prompt classification flags that are true, e.g. 'sexual, young'; '(none)' when
--       the prompt was classified and no flag is true. NULL: the prompt was not classified (is_prompt_classified
--       is false).
--   is_csam_scanned: The job's event context carried a hive_csam_score (so it was scanned). false when it did
--       not, and when the job is not enriched.
--   csam_score_max_pct: The highest hive_csam_score over the job's output items. NULL: the job was not scanned
--       (is_csam_scanned is false). [percent 0-100]
--   csam_scores_pct: The hive_csam_score of each output item, in item order. NULL: the job was not scanned, or
--       its scores were unreadable. [percent 0-100]
--   vlm_labels: The hive_vlm_summary label of each output item, in item order. NULL: the job's context carried
--       no hive_vlm_summary.
with

jobs as (
    select * from stg_jobs
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
        max(score_pct) as csam_score_max_pct,
        list(score_pct order by item_index) as csam_scores_pct
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
        is_final_status(jobs.status) as is_finished,
        jobs.status = 'succeeded' as is_succeeded,
        jobs.status in ('failed', 'expired') as is_failed,
        jobs.reason,
        jobs.blocked_reason,
        jobs.blocked_reason is not null as is_blocked,
        jobs.enrichment_status,
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
        jobs.is_prompt_classified,
        jobs.prompt_sexual,
        jobs.prompt_young,
        jobs.prompt_cr,
        jobs.prompt_scan,
        case when jobs.is_prompt_classified then coalesce(nullif(concat_ws(', ',
            case when jobs.prompt_sexual then 'sexual' end,
            case when jobs.prompt_young then 'young' end,
            case when jobs.prompt_cr then 'cr' end,
            case when jobs.prompt_scan then 'scan' end
        ), ''), '(none)') end as prompt_classification,
        csam.job_id is not null or jobs.csam_score_max_pct is not null as is_csam_scanned,
        coalesce(csam.csam_score_max_pct, jobs.csam_score_max_pct) as csam_score_max_pct,
        csam.csam_scores_pct,
        vlm.vlm_labels,
        steps.prompt
    from jobs
    left join steps on steps.workflow_id = jobs.workflow_id and steps.step_name = jobs.step_name
    left join workflows on workflows.workflow_id = jobs.workflow_id
    left join csam on csam.job_id = jobs.job_id
    left join vlm on vlm.job_id = jobs.job_id
)

select * from final
