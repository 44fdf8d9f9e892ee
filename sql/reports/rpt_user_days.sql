-- purpose: each user's activity per day (workflows, outcomes, net Buzz, flagged jobs), kept per day so that a publish recomputes the changed days only.
-- grain: day, user_id
-- rpt_user_history adds the running totals over these rows: a running total would change every later row of the user, so it is not stored.
-- columns:
--   day: A UTC day with at least one workflow of the user.
--   user_id: The user (the workflow id's numeric prefix, else a `user:N` tag).
--   workflows: The user's workflows that day.
--   succeeded: Of those, the ones that succeeded.
--   failed: Of those, the ones that failed or expired.
--   jobs: Jobs of those workflows.
--   jobs_scanned: Of those, the jobs whose event context carried a hive_csam_score.
--   jobs_flagged: Of those, the jobs whose highest hive_csam_score is at or above the csam_threshold parameter.
--   buzz_net: Buzz the user spent that day net of refunds. [Buzz]
with

workflows as (
    select * from fct_workflows
),

jobs as (
    select * from fct_jobs
),

settings as (
    select cast(getvariable('csam_threshold') as double) as csam_threshold
),

workflow_days as (
    select
        user_id,
        window_date as day,
        count(*) as workflows,
        count(*) filter (where is_succeeded) as succeeded,
        count(*) filter (where status in ('failed', 'expired')) as failed,
        sum(jobs)::bigint as jobs,
        sum(buzz_net)::bigint as buzz_net
    from workflows
    where user_id is not null
    group by user_id, window_date
),

job_days as (
    select
        jobs.user_id,
        jobs.window_date as day,
        count(*) filter (where jobs.is_csam_scanned) as jobs_scanned,
        count(*) filter (where jobs.csam_score_max_pct >= settings.csam_threshold) as jobs_flagged
    from jobs
    cross join settings
    where jobs.user_id is not null
    group by jobs.user_id, jobs.window_date
),

final as (
    select
        workflow_days.day,
        workflow_days.user_id,
        workflow_days.workflows,
        workflow_days.succeeded,
        workflow_days.failed,
        workflow_days.jobs,
        coalesce(job_days.jobs_scanned, 0) as jobs_scanned,
        coalesce(job_days.jobs_flagged, 0) as jobs_flagged,
        workflow_days.buzz_net
    from workflow_days
    left join job_days using (user_id, day)
)

select * from final
