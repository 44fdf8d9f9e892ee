-- purpose: daily distribution of each scanned job's highest hive_csam_score, in 5-point buckets from 0 to 100 percent.
-- grain: day, bucket
-- A score of exactly 100 goes in the top bucket. Every bucket of a day with scanned jobs has a row (jobs = 0
-- when empty), so a chart over any range of days sums whole buckets. Scores outside [0, 100] are clamped.
-- columns:
--   day: The UTC day of the jobs' workflows' creation.
--   bucket: The bucket's number: 0 holds scores in [0, 5), 1 [5, 10), ... 19 [95, 100].
--   score_from_pct: The lowest score in the bucket. [percent 0-100]
--   score_to_pct: The bucket's upper end (excluded, but for 100 in bucket 19). [percent 0-100]
--   jobs: Scanned jobs whose highest hive_csam_score falls in the bucket (0 when none).
with

jobs as (
    select * from fct_jobs
),

buckets as (
    select
        bucket,
        cast(bucket * 5 as double) as score_from_pct,
        cast(bucket * 5 + 5 as double) as score_to_pct
    from range(20) as r(bucket)
),

scanned as (
    select
        window_date as day,
        cast(least(greatest(floor(csam_score_max_pct / 5.0), 0), 19) as bigint) as bucket
    from jobs
    where csam_score_max_pct is not null
),

days as (
    select distinct day from scanned
),

counts as (
    select day, bucket, count(*) as jobs
    from scanned
    group by day, bucket
),

final as (
    select
        days.day,
        buckets.bucket,
        buckets.score_from_pct,
        buckets.score_to_pct,
        coalesce(counts.jobs, 0) as jobs
    from days
    cross join buckets
    left join counts on counts.day = days.day and counts.bucket = buckets.bucket
)

select * from final
order by day, bucket
