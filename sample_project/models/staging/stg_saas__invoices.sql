-- One row per invoice sent to an account (invoice header).
select
    invoice_id,
    account_id,
    {{ date_key_to_date('date_key') }} as invoice_month,
    occurred_at as invoiced_at,
    amount::decimal(18, 2) as amount_usd
from {{ source('saas', 'fct_invoice') }}
