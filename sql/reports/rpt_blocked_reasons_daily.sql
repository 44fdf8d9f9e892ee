-- purpose: daily counts of everything blocked, by where the block was recorded and its reason.
-- grain: day, source, blocked_reason
-- columns:
--   day: The UTC day of the workflows' creation.
--   source: Where the block was recorded: 'output' (a blob with a blockedReason), 'job' (a job with a blocked
--       reason) or 'moderation_step' (a blocking verdict of a moderation step).
--   blocked_reason: The reason given; '(no reason)' when a moderation step blocked without naming one.
--   items: Blocked blobs, jobs or verdicts.
--   workflows: Distinct workflows among them.
--   users: Distinct users among them (workflows without a user not counted).
with

blobs as (
    select * from fct_blobs
),

jobs as (
    select * from fct_jobs
),

verdicts as (
    select * from fct_moderation_verdicts
),

blocked as (
    select window_date, 'output' as source, blocked_reason, workflow_id, user_id
    from blobs
    where is_blocked

    union all

    select window_date, 'job' as source, blocked_reason, workflow_id, user_id
    from jobs
    where is_blocked

    union all

    select
        window_date,
        'moderation_step' as source,
        coalesce(blocked_reason, '(no reason)') as blocked_reason,
        workflow_id,
        user_id
    from verdicts
    where is_blocked
),

final as (
    select
        window_date as day,
        source,
        blocked_reason,
        count(*) as items,
        count(distinct workflow_id) as workflows,
        count(distinct user_id) as users
    from blocked
    group by all
)

select * from final
order by day, source, items desc, blocked_reason
