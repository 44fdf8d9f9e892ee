-- purpose: every job with what the v1 job endpoint said about it: provider, last event, priority, prompt classification, reasons.
-- grain: job_id
-- enrichment_status: enriched (v1 job found), not_found (v1 answered 404), pending (not looked up yet).
-- reason / blocked_reason: the workflow's own word on the job when it gives one, else the v1 event context's.
with

jobs as (
    select * from stg_jobs
),

job_details as (
    select * from stg_job_details
),

final as (
    select
        jobs.job_id,
        jobs.workflow_id,
        jobs.step_name,
        jobs.window_date,
        jobs.job_index,
        jobs.status,
        jobs.cost,
        jobs.started_at,
        jobs.completed_at,
        jobs.queue_support,
        jobs.queue_preceding_jobs,
        jobs.queue_start_at,
        jobs.queue_complete_at,
        coalesce(jobs.reason, job_details.reason) as reason,
        coalesce(jobs.blocked_reason, job_details.blocked_reason) as blocked_reason,
        case
            when job_details.found then 'enriched'
            when job_details.found = false then 'not_found'
            else 'pending'
        end as enrichment_status,
        job_details.fetched_at as enriched_at,
        job_details.job_type,
        job_details.provider,
        job_details.worker_id,
        job_details.last_event_type,
        job_details.last_event_at,
        job_details.is_final,
        job_details.retry_attempt,
        job_details.job_duration_seconds,
        job_details.claim_duration_seconds,
        job_details.priority,
        job_details.service_providers,
        job_details.prompt_sexual,
        job_details.prompt_young,
        job_details.prompt_cr,
        job_details.prompt_scan,
        job_details.csam_score_max,
        job_details.params_json,
        job_details.context_json
    from jobs
    left join job_details on job_details.job_id = jobs.job_id
)

select * from final
