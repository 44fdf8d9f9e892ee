-- purpose: moderation scan values from the job event context, one row per score key and output item.
-- grain: job_id, score_name, item_index
-- columns:
--   score_pct: The item as a percent on one 0-100 scale (`scan_scores.score`): `%` items as written, the bare
--       numbers of a `*_score` key scaled by 100 when all lie in [0, 1]. NULL: no percent (a label, n/a, a bare
--       number of another key: see value_text, or unreadable). [percent 0-100]
with

source as (
    select * from scan_scores
),

deduped as (
    select *
    from source
    qualify row_number() over (
        partition by job_id, score_name, item_index order by window_date desc
    ) = 1
),

final as (
    select
        job_id,
        score_name,
        item_index,
        workflow_id,
        window_date,
        blob_id,
        score as score_pct,
        label,
        value_text,
        raw_value_text
    from deduped
)

select * from final
