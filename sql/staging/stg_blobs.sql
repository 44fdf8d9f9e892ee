-- purpose: output blobs of every step (images, videos, audio, 3D models) with their moderation fields; never a signed url.
-- grain: workflow_id, blob_id
-- A blob id served from the output cache to two workflows is a row in each. Types and NSFW levels are
-- lower-cased; an empty blocked reason is NULL.
with

source as (
    select * from blobs
),

deduped as (
    select *
    from source
    qualify row_number() over (
        partition by workflow_id, blob_id order by window_date desc, step_name
    ) = 1
),

final as (
    select
        workflow_id,
        blob_id,
        step_name,
        job_id,
        window_date,
        json_path,
        lower(blob_type) as blob_type,
        available,
        lower(nsfw_level) as nsfw_level,
        nullif(trim(blocked_reason), '') as blocked_reason,
        width,
        height,
        duration_seconds,
        format,
        url_expires_at
    from deduped
)

select * from final
