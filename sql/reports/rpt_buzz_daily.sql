-- purpose: daily Buzz spent net of refunds per account type (sum of debits minus sum of credits).
-- grain: day, account_type
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
        coalesce(sum(amount) filter (where txn_type = 'debit'), 0)::bigint as buzz_debit,
        coalesce(sum(amount) filter (where txn_type = 'credit'), 0)::bigint as buzz_credit,
        sum(signed_amount)::bigint as buzz_net
    from transactions
    group by all
)

select * from final
order by day, account_type
