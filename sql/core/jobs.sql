-- purpose: the jobs embedded in workflows, with the enrichment of their v1 lookup (NULL until a job is looked up: see enrichment_status).
-- grain: job_id
-- The lake keeps the two apart (`lake.jobs` from the workflow pages, `lake.job_details` from
-- the v1 job endpoint, each replaced with its window); analysts want them as one table.
-- reason / blocked_reason: the workflow's own word on the job when it gives one, else the v1
-- event context's (where the service actually says why a job failed or was blocked).
-- columns:
--   reason: Why the job failed: the workflow's word, else the v1 event context's. NULL: neither gives a reason.
--   blocked_reason: Why the job was blocked: the workflow's word, else the v1 event context's. NULL: not blocked
--       as far as either says.
--   enrichment_status: Whether the v1 job lookup has been made: enriched (the job was found), not_found (the
--       endpoint answered 404: the job is gone), pending (not looked up yet). Never NULL; every enrichment
--       column below is NULL unless it is enriched.
--   job_type: The v1 job's type (e.g. TextToImageV2, ComfyJob). NULL: not enriched, or the API sent none.
--   provider: The provider that ran the job. NULL: not enriched, or no provider yet (never claimed).
--   service_providers: Names of the providers that could run the job (empty: unscheduled). NULL: not enriched,
--       or not sent.
--   worker_id: The worker that ran the job. NULL: not enriched, or no worker yet.
--   priority: The job's priority as a number (the last event's jobPriority, else the definition's value;
--       higher runs first). NULL: not enriched, or no number given.
--   last_event_type: The type of the job's last v1 event (Claimed, Updated, Succeeded, Failed, ...). NULL: not
--       enriched, or the job has no event.
--   last_event_at: When the last v1 event happened (UTC). NULL: not enriched, or no event.
--   is_final: Whether the job will not change again (its last event is final, or it is gone). NULL: not
--       looked up yet (enrichment_status pending).
--   retry_attempt: The last event's retryAttempt (0 = first try). NULL: not enriched, or not sent.
--   job_duration_seconds: How long the job ran, by its last event (jobDuration). NULL: not enriched, or not
--       sent. [seconds]
--   is_prompt_classified: Whether the v1 job carried a prompt classification (promptClassificationResult).
--       false when it did not, and when the job is not enriched (enrichment_status says which). Never NULL.
--   prompt_sexual: The prompt classification's `sexual` flag. NULL: no prompt classification (is_prompt_classified is
--       false).
--   prompt_young: The prompt classification's `young` flag. NULL: no prompt classification
--       (is_prompt_classified is false).
--   prompt_cr: The prompt classification's `cr` flag. NULL: no prompt classification (is_prompt_classified is
--       false).
--   prompt_scan: The prompt classification's `scan` flag. NULL: no prompt
--       classification (is_prompt_classified is false).
--   params_json: The v1 job's params as JSON text, URLs left out. NULL: not enriched, or not sent.
--   context_json: The last v1 event's context as JSON text (scan scores, reasons). NULL: not enriched, or no
--       context.
--   csam_score_max_pct: The highest hive_csam_score over the job's output items. NULL: no hive_csam_score was
--       read for the job (not scanned, or not enriched: see enrichment_status). [percent 0-100]
--   enriched_at: When the job was last looked up on the v1 endpoint (UTC). NULL: not looked up yet.
with

jobs as (
    select * from lake.jobs
),

details as (
    select * from lake.job_details
),

final as (
    select
        jobs.* replace (
            coalesce(jobs.reason, details.reason) as reason,
            coalesce(jobs.blocked_reason, details.blocked_reason) as blocked_reason
        ),
        case
            when details.job_id is null then 'pending'
            when details.found = false then 'not_found'
            else 'enriched'
        end as enrichment_status,
        details.job_type,
        details.provider,
        details.service_providers,
        details.worker_id,
        details.priority,
        details.last_event_type,
        details.last_event_at,
        details.is_final,
        details.retry_attempt,
        details.job_duration_seconds,
        details.prompt_classification_json is not null as is_prompt_classified,
        details.prompt_sexual,
        details.prompt_young,
        details.prompt_cr,
        details.prompt_scan,
        details.params_json,
        details.context_json,
        details.csam_score_max_pct,
        details.fetched_at as enriched_at
    from jobs
    left join details
        on details.job_id = jobs.job_id
        and details.window_date = jobs.window_date
)

select * from final
