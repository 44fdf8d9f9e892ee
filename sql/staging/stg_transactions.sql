-- purpose: Buzz transactions of each workflow (debits and refund credits) per account type.
-- grain: workflow_id, txn_index
-- txn_type is lower-cased.
-- columns:
--   amount_buzz: The transaction's amount, never negative (a credit is a refund). [Buzz]
with

source as (
    select * from transactions
),

deduped as (
    select *
    from source
    qualify row_number() over (
        partition by workflow_id, txn_index order by window_date desc
    ) = 1
),

final as (
    select
        workflow_id,
        txn_index,
        window_date,
        lower(txn_type) as txn_type,
        cast(amount as bigint) as amount_buzz,
        account_type,
        transaction_id
    from deduped
)

select * from final
