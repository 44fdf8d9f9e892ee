-- purpose: one row per verdict of a moderation step with its workflow's user, its job's provider and the verdict's label.
-- grain: workflow_id, step_name, verdict_index
-- columns:
--   verdict: What the verdict says in one word: the blocked reason, else the category (an xGuard label, a
--       Shieldstral policy, an age label), else '(blocked)' / '(not blocked)' / '(none)' (the output says
--       neither). Never NULL.
with

verdicts as (
    select * from stg_moderation_verdicts
),

jobs as (
    select * from stg_jobs
),

workflows as (
    select * from stg_workflows
),

final as (
    select
        verdicts.workflow_id,
        verdicts.step_name,
        verdicts.verdict_index,
        verdicts.window_date,
        workflows.user_id,
        verdicts.step_type,
        verdicts.job_id,
        jobs.provider,
        coalesce(
            verdicts.blocked_reason,
            verdicts.category,
            case
                when verdicts.is_blocked then '(blocked)'
                when not verdicts.is_blocked then '(not blocked)'
                else '(none)'
            end
        ) as verdict,
        verdicts.is_blocked,
        verdicts.blocked_reason,
        verdicts.nsfw_level,
        verdicts.category,
        verdicts.has_minor,
        verdicts.csam,
        verdicts.score_ratio,
        verdicts.labels,
        verdicts.detail_json
    from verdicts
    left join jobs on jobs.job_id = verdicts.job_id
    left join workflows on workflows.workflow_id = verdicts.workflow_id
)

select * from final
