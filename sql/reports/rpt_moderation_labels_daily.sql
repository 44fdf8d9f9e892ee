-- purpose: daily counts of open-ended moderation labels by provider: hive_vlm_summary labels, blocked reasons and NSFW levels of outputs.
-- grain: day, provider, category, label
-- columns:
--   day: The UTC day of the workflows' creation.
--   provider: The provider of the job behind the label; '(all)' rows roll the day up over every provider,
--       '(unknown)' holds labels of jobs without a provider.
--   category: What is counted: 'vlm_summary' (hive_vlm_summary items, one per output item), 'blocked_reason'
--       (blocked outputs by reason) or 'nsfw_level' (outputs by NSFW level).
--   label: The label, reason or level; '(none)' for an empty VLM item or an output that was not rated.
--   items: Items (VLM items or output blobs) with the label.
--   jobs: Distinct jobs among them (blobs without a known job not counted).
with

scan_scores as (
    select * from fct_scan_scores
),

blobs as (
    select * from fct_blobs
),

label_rows as (
    select
        window_date,
        coalesce(provider, '(unknown)') as provider_label,
        'vlm_summary' as category,
        coalesce(label, value_text, '(none)') as label,
        job_id
    from scan_scores
    where score_name = 'hive_vlm_summary'

    union all

    select
        window_date,
        coalesce(provider, '(unknown)') as provider_label,
        'blocked_reason' as category,
        blocked_reason as label,
        job_id
    from blobs
    where is_blocked

    union all

    select
        window_date,
        coalesce(provider, '(unknown)') as provider_label,
        'nsfw_level' as category,
        coalesce(nsfw_level, '(none)') as label,
        job_id
    from blobs
),

final as (
    select
        window_date as day,
        coalesce(provider_label, '(all)') as provider,
        category,
        label,
        count(*) as items,
        count(distinct job_id) as jobs
    from label_rows
    group by grouping sets (
        (window_date, provider_label, category, label),
        (window_date, category, label)
    )
)

select * from final
order by day, provider, category, items desc, label
