{#
  One row per account and month of its lifetime, from its arrival month to its cancellation month (or the
  end of the window), joining every monthly feed, the plan in force that month and the lifecycle flags the
  marts share. The business rules live here, once (full text in models/_definitions.md):
    customer   from the arrival month up to, not including, the cancellation month
    MRR        a missing value takes the account's last reported value (the next one in its first month);
               customer_mrr_usd is the month-end MRR: 0 in the cancellation month
    plan       the plan-history version in force that month: the one the month's usage row points at
#}
with

accounts as (
    select * from {{ ref('int_accounts') }}
),

months as (
    select * from {{ ref('stg_saas__months') }}
),

usage as (
    select * from {{ ref('stg_saas__account_usage_monthly') }}
),

support as (
    select * from {{ ref('stg_saas__support_monthly') }}
),

stages as (
    select * from {{ ref('stg_saas__account_stages') }}
),

plan_history as (
    select * from {{ ref('stg_saas__account_plan_history') }}
),

plans as (
    select * from {{ ref('stg_saas__plans') }}
),

activity as (
    select * from {{ ref('int_account_activity_monthly') }}
),

monthly_invoices as (
    select
        account_id,
        invoice_month as month_start,
        count(*) as invoices,
        sum(amount_usd) as invoiced_usd
    from {{ ref('int_invoices') }}
    group by account_id, invoice_month
),

-- the lifetime grid: a month missing from a feed shows up as nulls, it does not drop the account-month
account_months as (
    select
        accounts.account_id,
        accounts.segment,
        accounts.arrival_month,
        accounts.cancellation_month,
        months.month_start,
        months.month_index,
        months.year_quarter,
        usage.engagement,
        usage.mrr_usd,
        usage.paid_seats,
        support.support_tickets,
        support.nps,
        stages.lifecycle_stage,
        plan_history.plan_name
    from accounts
    join months
        on months.month_start between accounts.arrival_month and accounts.last_month
    left join usage
        on usage.account_id = accounts.account_id
        and usage.month_start = months.month_start
    left join support
        on support.account_id = accounts.account_id
        and support.month_start = months.month_start
    left join stages
        on stages.account_id = accounts.account_id
        and stages.month_start = months.month_start
    -- the source's fact rows carry the key of the plan version valid in their month: no date-range join
    left join plan_history
        on plan_history.plan_version_id = usage.plan_version_id
),

-- a missing engagement or MRR value (about 0.5% of cells, at random) takes the last reported value (the
-- next one when the account's first month is missing): a gap in the export is not a dip in revenue
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
        mrr_usd is null as is_mrr_imputed,
        month_start = arrival_month as is_arrival_month,
        coalesce(month_start = cancellation_month, false) as is_cancellation_month,
        cancellation_month is null or month_start < cancellation_month as is_customer
    from account_months
    window
        account_past as (
            partition by account_id order by month_index rows between unbounded preceding and current row
        ),
        account_future as (
            partition by account_id order by month_index rows between current row and unbounded following
        )
),

with_previous as (
    select
        filled.*,
        case when filled.is_customer then filled.mrr_filled_usd else 0 end as customer_mrr_usd,
        plans.plan_tier,
        lag(filled.is_customer, 1, false) over account_history as was_customer,
        lag(case when filled.is_customer then filled.mrr_filled_usd else 0 end, 1, 0) over account_history
            as previous_customer_mrr_usd,
        lag(filled.plan_name) over account_history as previous_plan_name,
        lag(plans.plan_tier) over account_history as previous_plan_tier
    from filled
    left join plans
        on plans.plan_name = filled.plan_name
    window account_history as (partition by filled.account_id order by filled.month_index)
)

select
    with_previous.account_id,
    with_previous.month_start,
    with_previous.month_index,
    with_previous.year_quarter,
    with_previous.segment,
    with_previous.arrival_month,
    with_previous.cancellation_month,
    date_diff('month', with_previous.arrival_month, with_previous.month_start) as months_since_arrival,
    with_previous.is_arrival_month,
    with_previous.is_cancellation_month,
    with_previous.is_customer,
    with_previous.was_customer,
    with_previous.lifecycle_stage,
    with_previous.engagement,
    with_previous.engagement_filled,
    with_previous.mrr_usd,
    with_previous.mrr_filled_usd,
    with_previous.is_mrr_imputed,
    with_previous.customer_mrr_usd,
    with_previous.previous_customer_mrr_usd,
    with_previous.plan_name,
    with_previous.plan_tier,
    with_previous.previous_plan_name,
    case
        when with_previous.plan_tier > with_previous.previous_plan_tier then 'upgrade'
        when with_previous.plan_tier < with_previous.previous_plan_tier then 'downgrade'
    end as plan_change,
    with_previous.paid_seats,
    activity.active_users,
    activity.users_added,
    activity.users_removed,
    coalesce(activity.logins, 0) as logins,
    coalesce(activity.users_logged_in, 0) as users_logged_in,
    with_previous.support_tickets,
    with_previous.nps,
    coalesce(monthly_invoices.invoices, 0) as invoices,
    coalesce(monthly_invoices.invoiced_usd, 0) as invoiced_usd
from with_previous
left join activity
    on activity.account_id = with_previous.account_id
    and activity.month_start = with_previous.month_start
left join monthly_invoices
    on monthly_invoices.account_id = with_previous.account_id
    and monthly_invoices.month_start = with_previous.month_start
