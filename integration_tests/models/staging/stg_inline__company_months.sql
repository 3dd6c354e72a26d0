-- One row per company and month: the inline source's one-metric fact tables joined back together.
select
    engagement.company_id,
    engagement.date_key,
    dim_date.period_start,
    dim_company.segment,
    engagement.engagement,
    mrr.mrr,
    seats.seats,
    support_tickets.support_tickets,
    nps.nps
from {{ source('inline', 'fct_engagement') }} as engagement
inner join {{ source('inline', 'fct_mrr') }} as mrr using (company_id, date_key)
inner join {{ source('inline', 'fct_seats') }} as seats using (company_id, date_key)
inner join {{ source('inline', 'fct_support_tickets') }} as support_tickets using (company_id, date_key)
inner join {{ source('inline', 'fct_nps') }} as nps using (company_id, date_key)
inner join {{ source('inline', 'dim_company') }} as dim_company using (company_id)
inner join {{ source('inline', 'dim_date') }} as dim_date using (date_key)
