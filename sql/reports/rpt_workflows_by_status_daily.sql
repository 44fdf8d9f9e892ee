-- purpose: daily workflow counts by status and step mix, for spotting which kinds of workflow fail.
-- grain: day, status, step_types
-- columns:
--   day: The UTC day of the workflows' creation.
--   status: The workflows' status (lower-cased); '(unknown)' when none was sent.
--   step_types: The workflows' step types in step order joined with '+' (e.g. 'imageGen+imageUpscaler'), so
--       each workflow counts exactly once per day; '(no steps)' when the workflow listed none.
--   workflows: Workflows of the day with that status and step mix.
--   users: Distinct users among them (workflows without a user not counted).
--   jobs: Jobs of those workflows.
--   buzz_net: Buzz spent on them net of refunds. [Buzz]
with

workflows as (
    select * from fct_workflows
),

final as (
    select
        window_date as day,
        coalesce(status, '(unknown)') as status,
        coalesce(step_types, '(no steps)') as step_types,
        count(*) as workflows,
        count(distinct user_id) as users,
        sum(jobs)::bigint as jobs,
        sum(buzz_net)::bigint as buzz_net
    from workflows
    group by all
)

select * from final
order by day, status, step_types
