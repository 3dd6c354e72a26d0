-- One row per account and month it exists: product usage and billing. Missing values stay null here;
-- int_account_months decides what to do with them.
select
    account_id,
    {{ date_key_to_date('date_key') }} as month_start,
    engagement::double as engagement,
    mrr::decimal(12, 2) as mrr_usd,
    seats::integer as paid_seats,
    plan_history_id as plan_version_id
from {{ source('saas', 'fct_account_monthly') }}
