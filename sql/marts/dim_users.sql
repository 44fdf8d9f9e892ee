-- purpose: one row per user with first and last activity, workflow outcomes and lifetime net Buzz.
-- grain: user_id
-- user_id is parsed from the workflow id prefix or a user:N tag; workflows without one are left out.
-- columns:
--   user_id: The user (the workflow id's numeric prefix, else a `user:N` tag). Never NULL here.
--   first_seen_at: When the user's first synced workflow was created (UTC).
--   last_seen_at: When the user's latest synced workflow was created (UTC).
--   first_date: The UTC day of the first synced workflow.
--   last_date: The UTC day of the latest synced workflow.
--   active_days: Days with at least one workflow of the user.
--   workflows: The user's workflows.
--   workflows_finished: Of those, the ones in a final status.
--   workflows_succeeded: Of those, the ones that succeeded.
--   jobs: Jobs of the user's workflows.
--   buzz_net: Buzz the user spent net of refunds over all synced days. [Buzz]
with

workflows as (
    select * from fct_workflows
),

final as (
    select
        user_id,
        min(created_at) as first_seen_at,
        max(created_at) as last_seen_at,
        min(window_date) as first_date,
        max(window_date) as last_date,
        count(distinct window_date) as active_days,
        count(*) as workflows,
        count(*) filter (where is_finished) as workflows_finished,
        count(*) filter (where is_succeeded) as workflows_succeeded,
        sum(jobs)::bigint as jobs,
        sum(buzz_net)::bigint as buzz_net
    from workflows
    where user_id is not null
    group by user_id
)

select * from final
