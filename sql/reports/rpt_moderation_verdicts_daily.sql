-- purpose: daily verdicts of moderation steps by step type and verdict: how many, how many blocked, minors and CSAM signals.
-- grain: day, step_type, verdict
-- verdict: the blocked reason, else the category (xGuard label, Shieldstral policy, age label), else
-- '(blocked)' / '(not blocked)' / '(none)' (see fct_moderation_verdicts). score_ratio_max is 0-1.
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
        max(score_ratio) as score_ratio_max
    from verdicts
    group by all
)

select * from final
order by day, step_type, verdicts desc, verdict
