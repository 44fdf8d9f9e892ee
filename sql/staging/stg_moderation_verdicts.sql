-- purpose: verdicts of moderation steps (mediaRating, xGuardModeration, shieldstralModeration, ageClassification), one row per verdict.
-- grain: workflow_id, step_name, verdict_index
-- score_ratio is the API's 0-1 score (a label's or policy's score, an age label's probability).
with

source as (
    select * from moderation_verdicts
),

deduped as (
    select *
    from source
    qualify row_number() over (
        partition by workflow_id, step_name, verdict_index order by window_date desc
    ) = 1
),

final as (
    select
        workflow_id,
        step_name,
        verdict_index,
        window_date,
        step_type,
        job_id,
        is_blocked,
        nullif(trim(blocked_reason), '') as blocked_reason,
        lower(nsfw_level) as nsfw_level,
        category,
        has_minor,
        csam,
        score_ratio,
        labels,
        detail_json
    from deduped
)

select * from final
