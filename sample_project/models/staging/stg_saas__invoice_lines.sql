-- One row per invoice line. The lines of an invoice add up to the invoice's amount.
select
    invoice_line_id,
    invoice_id,
    line_number,
    quantity::integer as quantity,
    amount::decimal(18, 2) as amount_usd
from {{ source('saas', 'fct_invoice_line') }}
