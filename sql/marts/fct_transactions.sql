-- purpose: one row per Buzz transaction with a signed amount (debit positive, refund credit negative).
-- grain: workflow_id, txn_index
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
        transactions.amount,
        case transactions.txn_type
            when 'debit' then transactions.amount
            when 'credit' then -transactions.amount
            else 0
        end as signed_amount,
        transactions.transaction_id
    from transactions
    left join workflows on workflows.workflow_id = transactions.workflow_id
)

select * from final
