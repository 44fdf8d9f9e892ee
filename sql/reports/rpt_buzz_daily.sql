-- purpose: daily Buzz spent net of refunds per account type (sum of debits minus sum of credits).
-- grain: day, account_type
-- columns:
--   day: The UTC day of the workflows' creation.
--   account_type: The Buzz account (yellow, blue, green, fakeRed); '(unknown)' when the transaction names none.
--   transactions: Transactions of the day on the account.
--   workflows: Distinct workflows with a transaction on the account.
--   buzz_debit: Sum of the debits. [Buzz]
--   buzz_credit: Sum of the credits (refunds). [Buzz]
--   buzz_net: Buzz spent net of refunds: buzz_debit - buzz_credit. [Buzz]
with

transactions as (
    select * from fct_transactions
),

final as (
    select
        window_date as day,
        coalesce(account_type, '(unknown)') as account_type,
        count(*) as transactions,
        count(distinct workflow_id) as workflows,
        coalesce(sum(amount_buzz) filter (where txn_type = 'debit'), 0)::bigint as buzz_debit,
        coalesce(sum(amount_buzz) filter (where txn_type = 'credit'), 0)::bigint as buzz_credit,
        sum(signed_amount_buzz)::bigint as buzz_net
    from transactions
    group by all
)

select * from final
order by day, account_type
