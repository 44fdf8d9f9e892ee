-- purpose: daily moderation by provider: jobs scanned and flagged over the CSAM threshold, flag ratio, prompt classification, output moderation.
-- grain: day, provider
-- A job is scanned when its event context carried a hive_csam_score, and flagged when its highest
-- item score is >= the csam_threshold parameter (percent).
-- VLM labels, blocked reasons and NSFW levels are open-ended: see rpt_moderation_labels_daily.
-- columns:
--   day: The UTC day of the jobs' workflows' creation.
--   provider: The provider that ran the jobs; '(all)' rows roll the day up over every provider, '(unknown)' holds
--       jobs without a provider (not enriched yet, or never claimed).
--   jobs: Jobs of the day.
--   jobs_enriched: Of those, the jobs looked up on the v1 endpoint and found.
--   jobs_scanned: Of those, the jobs whose event context carried a hive_csam_score.
--   jobs_flagged: Of the scanned, the jobs whose highest hive_csam_score is at or above csam_threshold_pct.
--   flag_ratio: jobs_flagged / jobs_scanned. NULL: no job was scanned. [ratio 0-1]
--   csam_score_max_pct: The highest hive_csam_score of the day's jobs. NULL: no job was scanned. [percent 0-100]
--   csam_threshold_pct: The threshold jobs_flagged counts at (the csam_threshold parameter). [percent 0-100]
--   jobs_prompt_classified: Jobs whose prompt was classified (the counts of prompts below are out of these).
--   prompts_sexual: Jobs whose prompt was classified sexual.
--   prompts_young: Jobs whose prompt was classified young.
--   prompts_sexual_and_young: Jobs whose prompt was classified both sexual and young.
--   prompts_cr: Jobs whose prompt classification has the cr flag.
--   prompts_scan: Jobs whose prompt classification has the scan flag.
--   outputs: Output blobs of the day's workflows (by the provider of the job that made them).
--   outputs_available: Of those, the blobs that can be downloaded.
--   outputs_blocked: Of those, the blobs that carry a blocked reason.
with

jobs as (
    select * from fct_jobs
),

blobs as (
    select * from fct_blobs
),

settings as (
    select cast(getvariable('csam_threshold') as double) as csam_threshold
),

job_rows as (
    select
        jobs.window_date,
        coalesce(jobs.provider, '(unknown)') as provider_label,
        jobs.enrichment_status,
        jobs.is_csam_scanned,
        coalesce(jobs.csam_score_max_pct >= settings.csam_threshold, false) as is_flagged,
        jobs.csam_score_max_pct,
        jobs.is_prompt_classified,
        coalesce(jobs.prompt_sexual, false) as prompt_sexual,
        coalesce(jobs.prompt_young, false) as prompt_young,
        coalesce(jobs.prompt_cr, false) as prompt_cr,
        coalesce(jobs.prompt_scan, false) as prompt_scan
    from jobs
    cross join settings
),

job_counts as (
    select
        window_date as day,
        coalesce(provider_label, '(all)') as provider,
        count(*) as jobs,
        count(*) filter (where enrichment_status = 'enriched') as jobs_enriched,
        count(*) filter (where is_csam_scanned) as jobs_scanned,
        count(*) filter (where is_flagged) as jobs_flagged,
        max(csam_score_max_pct) as csam_score_max_pct,
        count(*) filter (where is_prompt_classified) as jobs_prompt_classified,
        count(*) filter (where prompt_sexual) as prompts_sexual,
        count(*) filter (where prompt_young) as prompts_young,
        count(*) filter (where prompt_sexual and prompt_young) as prompts_sexual_and_young,
        count(*) filter (where prompt_cr) as prompts_cr,
        count(*) filter (where prompt_scan) as prompts_scan
    from job_rows
    group by grouping sets ((window_date, provider_label), (window_date))
),

blob_counts as (
    select
        window_date as day,
        coalesce(provider_label, '(all)') as provider,
        count(*) as outputs,
        count(*) filter (where available) as outputs_available,
        count(*) filter (where is_blocked) as outputs_blocked
    from (
        select window_date, coalesce(provider, '(unknown)') as provider_label, available, is_blocked
        from blobs
    )
    group by grouping sets ((window_date, provider_label), (window_date))
),

final as (
    select
        day,
        provider,
        coalesce(job_counts.jobs, 0) as jobs,
        coalesce(job_counts.jobs_enriched, 0) as jobs_enriched,
        coalesce(job_counts.jobs_scanned, 0) as jobs_scanned,
        coalesce(job_counts.jobs_flagged, 0) as jobs_flagged,
        job_counts.jobs_flagged / nullif(job_counts.jobs_scanned, 0) as flag_ratio,
        job_counts.csam_score_max_pct,
        settings.csam_threshold as csam_threshold_pct,
        coalesce(job_counts.jobs_prompt_classified, 0) as jobs_prompt_classified,
        coalesce(job_counts.prompts_sexual, 0) as prompts_sexual,
        coalesce(job_counts.prompts_young, 0) as prompts_young,
        coalesce(job_counts.prompts_sexual_and_young, 0) as prompts_sexual_and_young,
        coalesce(job_counts.prompts_cr, 0) as prompts_cr,
        coalesce(job_counts.prompts_scan, 0) as prompts_scan,
        coalesce(blob_counts.outputs, 0) as outputs,
        coalesce(blob_counts.outputs_available, 0) as outputs_available,
        coalesce(blob_counts.outputs_blocked, 0) as outputs_blocked
    from job_counts
    full join blob_counts using (day, provider)
    cross join settings
)

select * from final
order by day, provider
