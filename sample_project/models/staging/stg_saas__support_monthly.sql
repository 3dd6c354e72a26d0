-- One row per account and month: support load and satisfaction.
select
    account_id,
    strptime(date_key::varchar, '%Y%m%d')::date as month_start,
    support_tickets::integer as support_tickets,
    nps::double as nps
from {{ source('saas', 'fct_support_monthly') }}
