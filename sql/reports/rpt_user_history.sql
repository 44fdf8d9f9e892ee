-- purpose: each user's day-by-day activity with running totals: workflows, outcomes, net Buzz, flagged jobs.
-- grain: user_id, day
-- materialized: view
-- A view over rpt_user_days (recomputed per changed day at each publish): the running totals are a window over one row per user and day, cheap to compute when read, so a publish never rebuilds the whole history.
-- columns:
--   user_id: The user (the workflow id's numeric prefix, else a `user:N` tag).
--   day: A UTC day with at least one workflow of the user.
--   workflows: The user's workflows that day.
--   succeeded: Of those, the ones that succeeded.
--   failed: Of those, the ones that failed or expired.
--   jobs: Jobs of those workflows.
--   jobs_scanned: Of those, the jobs whose event context carried a hive_csam_score.
--   jobs_flagged: Of those, the jobs whose highest hive_csam_score is at or above the csam_threshold parameter.
--   buzz_net: Buzz the user spent that day net of refunds. [Buzz]
--   workflows_to_date: The user's workflows up to and including the day.
--   buzz_net_to_date: Buzz the user spent net of refunds up to and including the day. [Buzz]
--   jobs_flagged_to_date: The user's flagged jobs up to and including the day.
with

user_days as (
    select * from rpt_user_days
),

final as (
    select
        user_id,
        day,
        workflows,
        succeeded,
        failed,
        jobs,
        jobs_scanned,
        jobs_flagged,
        buzz_net,
        (sum(workflows) over user_to_date)::bigint as workflows_to_date,
        (sum(buzz_net) over user_to_date)::bigint as buzz_net_to_date,
        (sum(jobs_flagged) over user_to_date)::bigint as jobs_flagged_to_date
    from user_days
    window user_to_date as (partition by user_id order by day)
)

select * from final
order by user_id, day
