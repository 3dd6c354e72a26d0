-- One row per invoice, with its lines summed. The lines are aggregated per invoice before the join, so
-- an invoice with three lines is not counted three times (a classic fan-out).
with

invoices as (
    select * from {{ ref('stg_saas__invoices') }}
),

lines as (
    select
        invoice_id,
        count(*) as line_count,
        sum(quantity) as quantity,
        sum(amount_usd) as line_amount_usd
    from {{ ref('stg_saas__invoice_lines') }}
    group by invoice_id
)

select
    invoices.invoice_id,
    invoices.account_id,
    invoices.invoice_month,
    invoices.invoiced_at,
    invoices.amount_usd,
    coalesce(lines.line_count, 0) as line_count,
    coalesce(lines.quantity, 0) as quantity,
    coalesce(lines.line_amount_usd, 0) as line_amount_usd
from invoices
left join lines
    on lines.invoice_id = invoices.invoice_id
