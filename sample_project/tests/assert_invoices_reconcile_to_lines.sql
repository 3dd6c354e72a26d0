-- Invoice revenue reconciles with the invoice lines at every step:
--   each invoice: header amount = sum of its lines (int_invoices)
--   each month and plan: invoiced_usd = invoice_lines_usd (revenue_by_plan)
--   each month: the plans together carry every invoice of the month, no more, no fewer (the as-of plan
--   join neither drops nor duplicates an invoice)
with

invoice_mismatches as (
    select
        'invoice ' || invoice_id as checked,
        amount_usd as expected_usd,
        line_amount_usd as found_usd
    from {{ ref('int_invoices') }}
    where amount_usd <> line_amount_usd
),

plan_mismatches as (
    select
        'plan ' || plan_name || ' in ' || month_start as checked,
        invoiced_usd as expected_usd,
        invoice_lines_usd as found_usd
    from {{ ref('revenue_by_plan') }}
    where invoiced_usd <> invoice_lines_usd
),

staged_by_month as (
    select invoice_month as month_start, count(*) as invoices, sum(amount_usd) as amount_usd
    from {{ ref('stg_saas__invoices') }}
    group by invoice_month
),

mart_by_month as (
    select month_start, sum(invoices) as invoices, sum(invoiced_usd) as amount_usd
    from {{ ref('revenue_by_plan') }}
    group by month_start
),

month_mismatches as (
    select
        'month ' || coalesce(staged_by_month.month_start, mart_by_month.month_start) as checked,
        staged_by_month.amount_usd as expected_usd,
        mart_by_month.amount_usd as found_usd
    from staged_by_month
    full outer join mart_by_month
        on mart_by_month.month_start = staged_by_month.month_start
    where coalesce(staged_by_month.invoices, 0) <> coalesce(mart_by_month.invoices, 0)
       or coalesce(staged_by_month.amount_usd, 0) <> coalesce(mart_by_month.amount_usd, 0)
)

select * from invoice_mismatches
union all
select * from plan_mismatches
union all
select * from month_mismatches
