-- purpose: each day's heaviest users: the top N by workflows and the top N by net Buzz (N = the top_users parameter).
-- grain: day, user_id
-- A user appears when either rank is within N; ties break on user_id so the list is stable.
-- columns:
--   day: The UTC day of the workflows' creation.
--   user_id: The user (the workflow id's numeric prefix, else a `user:N` tag).
--   workflows: The user's workflows of the day.
--   workflows_succeeded: Of those, the ones that succeeded.
--   jobs: Jobs of those workflows.
--   buzz_net: Buzz the user spent that day net of refunds. [Buzz]
--   rank_by_workflows: The user's rank by workflows that day (1 = most).
--   rank_by_buzz_net: The user's rank by buzz_net that day (1 = most).
with

user_days as (
    select * from rpt_user_days
),

settings as (
    select cast(getvariable('top_users') as integer) as top_users
),

per_user as (
    select
        day,
        user_id,
        workflows,
        succeeded as workflows_succeeded,
        jobs,
        buzz_net
    from user_days
),

ranked as (
    select
        *,
        row_number() over (partition by day order by workflows desc, user_id) as rank_by_workflows,
        row_number() over (partition by day order by buzz_net desc, user_id) as rank_by_buzz_net
    from per_user
),

final as (
    select ranked.*
    from ranked
    cross join settings
    where ranked.rank_by_workflows <= settings.top_users
        or ranked.rank_by_buzz_net <= settings.top_users
)

select * from final
order by day, rank_by_workflows
