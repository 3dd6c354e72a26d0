-- One row per account and month: product usage and billing.
select
    account_id,
    strptime(date_key::varchar, '%Y%m%d')::date as month_start,
    engagement::double as engagement,
    mrr::decimal(12, 2) as mrr_usd,
    seats::integer as paid_seats
from {{ source('saas', 'fct_account_monthly') }}
