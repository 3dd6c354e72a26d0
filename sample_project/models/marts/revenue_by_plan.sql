-- Per month and plan: customers on the plan (the plan in force that month, from the SCD2 history), their
-- MRR and seats, how many moved onto the plan by an upgrade or a downgrade, and what was invoiced.
with

account_months as (
    select * from {{ ref('int_account_months') }}
),

plans as (
    select * from {{ ref('stg_saas__plans') }}
),

months as (
    select month_start from {{ ref('stg_saas__months') }}
),

invoices as (
    select * from {{ ref('int_invoices') }}
),

-- invoices take the plan their account was on in the invoice month (cancellation months included: the
-- final invoice of an account is still revenue)
invoices_by_plan as (
    select
        account_months.month_start,
        account_months.plan_name,
        count(*) as invoices,
        sum(invoices.line_count) as invoice_lines,
        sum(invoices.amount_usd) as invoiced_usd,
        sum(invoices.line_amount_usd) as invoice_lines_usd
    from invoices
    join account_months
        on account_months.account_id = invoices.account_id
        and account_months.month_start = invoices.invoice_month
    group by account_months.month_start, account_months.plan_name
),

customers_by_plan as (
    select
        month_start,
        plan_name,
        count(*) filter (where is_customer) as customers,
        coalesce(sum(customer_mrr_usd), 0) as mrr_usd,
        coalesce(sum(paid_seats) filter (where is_customer), 0) as paid_seats,
        count(*) filter (where plan_change = 'upgrade') as upgrades_in,
        count(*) filter (where plan_change = 'downgrade') as downgrades_in
    from account_months
    group by month_start, plan_name
)

select
    months.month_start,
    plans.plan_name,
    plans.plan_tier,
    plans.list_price_per_seat_usd,
    coalesce(customers_by_plan.customers, 0) as customers,
    coalesce(customers_by_plan.mrr_usd, 0) as mrr_usd,
    coalesce(customers_by_plan.paid_seats, 0) as paid_seats,
    coalesce(customers_by_plan.upgrades_in, 0) as upgrades_in,
    coalesce(customers_by_plan.downgrades_in, 0) as downgrades_in,
    coalesce(invoices_by_plan.invoices, 0) as invoices,
    coalesce(invoices_by_plan.invoice_lines, 0) as invoice_lines,
    coalesce(invoices_by_plan.invoiced_usd, 0) as invoiced_usd,
    coalesce(invoices_by_plan.invoice_lines_usd, 0) as invoice_lines_usd
from months
cross join plans
left join customers_by_plan
    on customers_by_plan.month_start = months.month_start
    and customers_by_plan.plan_name = plans.plan_name
left join invoices_by_plan
    on invoices_by_plan.month_start = months.month_start
    and invoices_by_plan.plan_name = plans.plan_name
