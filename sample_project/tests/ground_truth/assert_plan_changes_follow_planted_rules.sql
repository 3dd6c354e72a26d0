-- Ground truth: the saas template moves a plan down after three months of engagement below 0.3
-- (`down_when: {metric: engagement, below: 0.3, for: 3}`) and up after three months of a true health
-- position above 0.75 (`up_when: {metric: trajectory, above: 0.75, for: 3}`), the month of the change
-- included. Measured on the plan changes found by the as-of join in int_account_months, this checks that
-- join: a change shifted by a month (valid_to treated as inclusive, say) breaks the rule.
-- Reads raw_saas.trajectory, the generator's ground truth: drop this test on real data.
with

changes as (
    select account_id, month_start, plan_change
    from {{ ref('int_account_months') }}
    where plan_change is not null
),

health as (
    select
        account_id,
        {{ date_key_to_date('date_key') }} as month_start,
        position
    from {{ source('saas', 'trajectory') }}
),

windows as (
    select
        changes.account_id,
        changes.month_start,
        changes.plan_change,
        count(*) filter (where account_months.engagement >= 0.3) as months_not_low,
        count(*) filter (where health.position <= 0.75) as months_not_healthy
    from changes
    join {{ ref('int_account_months') }} as account_months
        on account_months.account_id = changes.account_id
        and account_months.month_start between (changes.month_start - interval 2 month)::date and changes.month_start
    join health
        on health.account_id = account_months.account_id
        and health.month_start = account_months.month_start
    group by changes.account_id, changes.month_start, changes.plan_change
)

select *
from windows
where (plan_change = 'downgrade' and months_not_low > 0)
   or (plan_change = 'upgrade' and months_not_healthy > 0)
