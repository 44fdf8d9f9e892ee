-- purpose: output blobs of every step (images, videos, ...) with their moderation fields; never a signed url.
-- grain: blob_id
with

source as (
    select * from blobs
),

deduped as (
    select *
    from source
    qualify row_number() over (
        partition by blob_id order by window_date desc, workflow_id, step_name
    ) = 1
),

final as (
    select
        blob_id,
        workflow_id,
        step_name,
        job_id,
        window_date,
        output_key,
        item_index,
        lower(blob_type) as blob_type,
        available,
        lower(nsfw_level) as nsfw_level,
        nullif(trim(blocked_reason), '') as blocked_reason,
        width,
        height,
        duration,
        url_expires_at
    from deduped
)

select * from final
