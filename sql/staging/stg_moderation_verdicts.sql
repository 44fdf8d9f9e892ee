-- purpose: verdicts of moderation steps (mediaRating, xGuardModeration, shieldstralModeration, ageClassification), one row per verdict.
-- grain: workflow_id, step_name, verdict_index
-- columns:
--   score_ratio: The verdict's score (`moderation_verdicts.score`) as the API gives it: a label's or policy's
--       score, an age label's probability. NULL: the verdict has none. [ratio 0-1]
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
        score as score_ratio,
        labels,
        detail_json
    from deduped
)

select * from final
