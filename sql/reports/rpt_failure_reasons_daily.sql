-- purpose: daily failed and expired jobs by step type and the reason given for them.
-- grain: day, step_type, reason
-- columns:
--   day: The UTC day of the jobs' workflows' creation.
--   step_type: The step type of the jobs; '(unknown)' when the step is not in the lake.
--   reason: The failure reason (the workflow's, else the v1 job event's); '(none given)' when neither says.
--   jobs: Failed or expired jobs.
--   failed: Of those, the failed ones.
--   expired: Of those, the expired ones.
--   blocked: Of those, the ones that also carry a blocked reason.
--   workflows: Distinct workflows among them.
--   users: Distinct users among them (workflows without a user not counted).
with

jobs as (
    select * from fct_jobs
),

final as (
    select
        window_date as day,
        coalesce(step_type, '(unknown)') as step_type,
        coalesce(reason, '(none given)') as reason,
        count(*) as jobs,
        count(*) filter (where status = 'failed') as failed,
        count(*) filter (where status = 'expired') as expired,
        count(*) filter (where is_blocked) as blocked,
        count(distinct workflow_id) as workflows,
        count(distinct user_id) as users
    from jobs
    where is_failed
    group by all
)

select * from final
order by day, jobs desc, step_type, reason
