-- One row per account and month: usage, revenue and support of the template-based source.
select
    account.account_id,
    account.date_key,
    dim_date.period_start,
    dim_account.segment,
    account.engagement,
    account.mrr,
    account.seats,
    support.support_tickets,
    support.nps
from {{ source('saas', 'fct_account_monthly') }} as account
inner join {{ source('saas', 'fct_support_monthly') }} as support using (account_id, date_key)
inner join {{ source('saas', 'dim_account') }} as dim_account using (account_id)
inner join {{ source('saas', 'dim_date') }} as dim_date using (date_key)
