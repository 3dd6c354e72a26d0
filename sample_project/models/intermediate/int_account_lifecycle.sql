-- One row per account: when it activated, whether and when it churned (rules in int_account_months).
with

account_months as (
    select * from {{ ref('int_account_months') }}
),

months as (
    select * from {{ ref('stg_saas__months') }}
),

accounts as (
    select
        account_id,
        any_value(segment) as segment,
        any_value(activation_month_index) as activation_month_index,
        any_value(churn_month_index) as churn_month_index,
        avg(engagement) filter (where not is_churned) as avg_engagement_while_customer,
        max(mrr_filled_usd) filter (where not is_churned) as peak_mrr_usd
    from account_months
    group by account_id
)

select
    accounts.account_id,
    accounts.segment,
    activation.month_start as activation_month,
    activation.year_quarter as activation_cohort,
    accounts.activation_month_index,
    churn.month_start as churn_month,
    accounts.churn_month_index,
    accounts.churn_month_index is not null as has_churned,
    accounts.churn_month_index - accounts.activation_month_index as months_activated_before_churn,
    accounts.avg_engagement_while_customer,
    accounts.peak_mrr_usd
from accounts
left join months as activation
    on activation.month_index = accounts.activation_month_index
left join months as churn
    on churn.month_index = accounts.churn_month_index
