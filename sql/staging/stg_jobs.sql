-- purpose: jobs with their enrichment from the v1 job endpoint (provider, last event, priority, prompt classification, reasons).
-- grain: job_id
-- reason / blocked_reason: the workflow's word on the job, else the v1 event context's (see sql/core/jobs.sql).
-- Statuses are lower-cased; an empty reason is NULL. Every column means what it means in `jobs`.
with

source as (
    select * from jobs
),

deduped as (
    -- the freshest enrichment wins when a job id shows up twice
    select *
    from source
    qualify row_number() over (
        partition by job_id order by enriched_at desc nulls last, window_date desc
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
        nullif(trim(blocked_reason), '') as blocked_reason,
        enrichment_status,
        job_type,
        provider,
        service_providers,
        worker_id,
        priority,
        last_event_type,
        last_event_at,
        is_final,
        retry_attempt,
        job_duration_seconds,
        is_prompt_classified,
        prompt_sexual,
        prompt_young,
        prompt_cr,
        prompt_scan,
        csam_score_max_pct,
        params_json,
        context_json,
        enriched_at
    from deduped
)

select * from final
