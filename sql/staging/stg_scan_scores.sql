-- purpose: moderation scan values from the job event context, one row per score key and output item.
-- grain: job_id, score_name, item_index
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
        score,
        label,
        value_text,
        raw_value_text
    from deduped
)

select * from final
