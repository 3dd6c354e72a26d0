-- One row per segment and month.
select
    segment,
    date_key,
    period_start,
    count(*) as accounts,
    avg(engagement) as avg_engagement,
    avg(mrr) as avg_mrr,
    sum(seats) as total_seats,
    sum(support_tickets) as total_support_tickets
from {{ ref('stg_saas__account_months') }}
group by segment, date_key, period_start
