{#
  One row per account and month, every account in every month, with the lifecycle flags the marts share.
  The rules (thresholds are vars in dbt_project.yml; the full definition is in _intermediate__models.yml):
    activated  from the first month engagement >= activation_engagement
    churned    from the first month, after activation, that starts a run of churn_consecutive_months
               months with engagement < churn_engagement; churn is final
#}
{%- set activation = var('activation_engagement') -%}
{%- set churn_below = var('churn_engagement') -%}
{%- set run_length = var('churn_consecutive_months') | int -%}

with

months as (
    select * from {{ ref('stg_saas__months') }}
),

accounts as (
    select * from {{ ref('stg_saas__accounts') }}
),

usage as (
    select * from {{ ref('stg_saas__account_usage_monthly') }}
),

support as (
    select * from {{ ref('stg_saas__support_monthly') }}
),

-- the full account x month grid: a month with no usage row would show as nulls, not disappear
account_months as (
    select
        accounts.account_id,
        accounts.segment,
        months.month_start,
        months.month_index,
        months.year_quarter,
        usage.engagement,
        usage.mrr_usd,
        usage.paid_seats,
        support.support_tickets,
        support.nps
    from accounts
    cross join months
    left join usage
        on usage.account_id = accounts.account_id
        and usage.month_start = months.month_start
    left join support
        on support.account_id = accounts.account_id
        and support.month_start = months.month_start
),

-- a missing engagement or MRR value (about 0.5% of cells, at random) takes the last reported value (the
-- next one when the account's first month is missing), so a gap in the export neither breaks a
-- low-engagement run nor dents the revenue line
filled as (
    select
        *,
        coalesce(
            engagement,
            last_value(engagement ignore nulls) over account_past,
            first_value(engagement ignore nulls) over account_future
        ) as engagement_filled,
        coalesce(
            mrr_usd,
            last_value(mrr_usd ignore nulls) over account_past,
            first_value(mrr_usd ignore nulls) over account_future
        ) as mrr_filled_usd,
        mrr_usd is null as is_mrr_imputed
    from account_months
    window
        account_past as (
            partition by account_id order by month_index rows between unbounded preceding and current row
        ),
        account_future as (
            partition by account_id order by month_index rows between current row and unbounded following
        )
),

runs as (
    select
        *,
        min(case when engagement_filled >= {{ activation }} then month_index end)
            over (partition by account_id) as activation_month_index,
        -- this month starts a low run when it and the next months are all below the churn threshold
        -- (a run still open at the end of the window does not count yet)
        count(case when engagement_filled < {{ churn_below }} then 1 end) over next_months = {{ run_length }}
            as starts_low_run
    from filled
    window next_months as (
        partition by account_id order by month_index
        rows between current row and {{ run_length - 1 }} following
    )
),

churn as (
    select
        *,
        min(case when starts_low_run and month_index > activation_month_index then month_index end)
            over (partition by account_id) as churn_month_index
    from runs
)

select
    account_id,
    month_start,
    month_index,
    year_quarter,
    segment,
    engagement,
    engagement_filled,
    mrr_usd,
    mrr_filled_usd,
    is_mrr_imputed,
    lag(mrr_filled_usd) over (partition by account_id order by month_index) as previous_mrr_filled_usd,
    paid_seats,
    support_tickets,
    nps,
    activation_month_index,
    churn_month_index,
    coalesce(month_index >= activation_month_index, false) as is_activated,
    coalesce(month_index = churn_month_index, false) as is_churn_month,
    coalesce(month_index >= churn_month_index, false) as is_churned,
    case
        when month_index >= churn_month_index then 'churned'
        when month_index >= activation_month_index then 'activated'
        else 'onboarding'
    end as lifecycle_stage,
    month_index - activation_month_index as months_since_activation
from churn
