-- One row per week across all stores.
select
    date_key,
    period_start,
    sum(footfall) as total_footfall,
    sum(sales) as total_sales
from {{ ref('stg_stores__store_weeks') }}
group by date_key, period_start
