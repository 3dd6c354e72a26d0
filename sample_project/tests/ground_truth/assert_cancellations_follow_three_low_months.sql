-- Ground truth: the saas template cancels an account after three months of engagement below 0.15
-- (`events: churn: when: {metric: engagement, below: 0.15, for: 3}`), the cancellation month included.
-- So every cancelled account has data in its cancellation month and the two before, and every reported
-- engagement in those months is below 0.15. A row here means the cancellation month is misaligned with
-- the usage months (an off-by-one in a date conversion, say) or the feeds disagree.
with

cancelled as (
    select account_id, cancellation_month
    from {{ ref('int_accounts') }}
    where has_cancelled
),

last_three_months as (
    select
        cancelled.account_id,
        count(account_months.month_start) as months_with_data,
        count(*) filter (where account_months.engagement >= 0.15) as months_not_low
    from cancelled
    left join {{ ref('int_account_months') }} as account_months
        on account_months.account_id = cancelled.account_id
        and account_months.month_start between (cancelled.cancellation_month - interval 2 month)::date
                                           and cancelled.cancellation_month
    group by cancelled.account_id
)

select *
from last_three_months
where months_with_data <> 3
   or months_not_low > 0
