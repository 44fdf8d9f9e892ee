-- purpose: daily counts of open-ended moderation labels by provider: hive_vlm_summary labels, blocked reasons and NSFW levels of outputs.
-- grain: day, provider, category, label
-- category 'vlm_summary' counts hive_vlm_summary items (one per output item); 'blocked_reason' counts
-- blocked outputs by reason; 'nsfw_level' counts outputs by NSFW level ('(none)' when not rated).
-- provider '(all)' rows roll the day up over every provider; items = rows counted, jobs = distinct jobs.
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
