-- The segment-month mart with one more seat in its first row: the truth table knows the right total.
select
    segment,
    date_key,
    period_start,
    accounts,
    total_seats + case when row_number() over (order by date_key, segment) = 1 then 1 else 0 end as total_seats
from {{ ref('agg_saas__segment_months') }}
