-- purpose: workflows as synced, one row per workflow id, with statuses and nsfw levels lower-cased.
-- grain: workflow_id
-- The Buzz amounts of the workflow's cost are named with their unit.
-- columns:
--   cost_base_buzz: The workflow's `cost.base`: its cost before tips. NULL: not sent. [Buzz]
--   cost_total_buzz: The workflow's `cost.total`: its cost including tips; 0 for a refunded or failed run. NULL:
--       not sent. [Buzz]
with

source as (
    select * from workflows
),

deduped as (
    -- a workflow re-synced in a later run replaces the earlier copy
    select *
    from source
    qualify row_number() over (
        partition by workflow_id order by synced_at desc nulls last, window_date desc
    ) = 1
),

final as (
    select
        workflow_id,
        window_date,
        cast(user_id as bigint) as user_id,
        lower(status) as status,
        created_at,
        started_at,
        completed_at,
        deleted_at,
        lower(nsfw_level) as nsfw_level,
        tags,
        currencies,
        cast(cost_base as bigint) as cost_base_buzz,
        cast(cost_total as bigint) as cost_total_buzz,
        cast(cost_tips_civitai_buzz as bigint) as cost_tips_civitai_buzz,
        cast(cost_tips_creators_buzz as bigint) as cost_tips_creators_buzz,
        cost_factors_json,
        cost_fees_json,
        cast(lost_blobs_refund_buzz as bigint) as lost_blobs_refund_buzz,
        cast(buzz_debit as bigint) as buzz_debit,
        cast(buzz_credit as bigint) as buzz_credit,
        upgrade_mode,
        external_id,
        experimental,
        allow_mature_content,
        force_refunded,
        step_count,
        metadata_json,
        arguments_json,
        synced_at
    from deduped
)

select * from final
