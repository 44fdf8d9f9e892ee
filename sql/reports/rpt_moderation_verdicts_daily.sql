-- purpose: daily verdicts of moderation steps by step type and verdict: how many, how many blocked, minors and CSAM signals.
-- grain: day, step_type, verdict
-- columns:
--   day: The UTC day of the workflows' creation.
--   verdicts: Verdicts of the day with this step type and verdict.
--   blocked: Of those, the blocking ones.
--   minors: Of those, the ones that detected a minor.
--   csam: Of those, the ones with the csam flag set.
--   steps: Distinct moderation steps among them.
--   users: Distinct users among them (workflows without a user not counted).
--   score_max_ratio: The highest score among them. NULL: none has a score. [ratio 0-1]
with

verdicts as (
    select * from fct_moderation_verdicts
),

final as (
    select
        window_date as day,
        step_type,
        verdict,
        count(*) as verdicts,
        count(*) filter (where is_blocked) as blocked,
        count(*) filter (where has_minor) as minors,
        count(*) filter (where csam) as csam,
        count(distinct (workflow_id, step_name)) as steps,
        count(distinct user_id) as users,
        max(score_ratio) as score_max_ratio
    from verdicts
    group by all
)

select * from final
order by day, step_type, verdicts desc, verdict
