-- Each month opens with the MRR and customers the previous month closed with, per segment, and the first
-- month opens at zero. A gap in the account-month grid (a month dropped between arrival and cancellation)
-- would make revenue vanish and reappear here.
with bridge as (
    select
        month_start,
        segment,
        opening_mrr_usd,
        opening_customers,
        lag(closing_mrr_usd, 1, 0) over (partition by segment order by month_start) as previous_closing_mrr_usd,
        lag(closing_customers, 1, 0) over (partition by segment order by month_start) as previous_closing_customers
    from {{ ref('mrr_movements') }}
)

select *
from bridge
where opening_mrr_usd <> previous_closing_mrr_usd
   or opening_customers <> previous_closing_customers
