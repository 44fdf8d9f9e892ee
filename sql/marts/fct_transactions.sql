-- purpose: one row per Buzz transaction with a signed amount (debit positive, refund credit negative).
-- grain: workflow_id, txn_index
-- columns:
--   signed_amount_buzz: The amount as spend: a debit positive, a refund credit negative, 0 for any other
--       type; summed, it is the net Buzz spent. [Buzz]
with

transactions as (
    select * from stg_transactions
),

workflows as (
    select * from stg_workflows
),

final as (
    select
        transactions.workflow_id,
        transactions.txn_index,
        transactions.window_date,
        workflows.user_id,
        transactions.txn_type,
        transactions.account_type,
        transactions.amount_buzz,
        signed_buzz(transactions.txn_type, transactions.amount_buzz) as signed_amount_buzz,
        transactions.transaction_id
    from transactions
    left join workflows on workflows.workflow_id = transactions.workflow_id
)

select * from final
