-- One row per month across all companies.
select
    date_key,
    period_start,
    count(*) as companies,
    sum(mrr) as total_mrr,
    avg(engagement) as avg_engagement
from {{ ref('stg_inline__company_months') }}
group by date_key, period_start
