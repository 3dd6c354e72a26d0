-- One row per account and month it exists: support load and satisfaction.
select
    account_id,
    {{ date_key_to_date('date_key') }} as month_start,
    support_tickets::integer as support_tickets,
    nps::double as nps
from {{ source('saas', 'fct_support_monthly') }}
