-- Two marts, one revenue line: every month, the MRR and customers of revenue_by_plan, summed over plans,
-- equal the closing MRR and customers of mrr_movements, summed over segments.
with

by_plan as (
    select month_start, sum(mrr_usd) as mrr_usd, sum(customers) as customers
    from {{ ref('revenue_by_plan') }}
    group by month_start
),

by_segment as (
    select month_start, sum(closing_mrr_usd) as mrr_usd, sum(closing_customers) as customers
    from {{ ref('mrr_movements') }}
    group by month_start
)

select
    by_segment.month_start,
    by_segment.mrr_usd as segment_mrr_usd,
    by_plan.mrr_usd as plan_mrr_usd,
    by_segment.customers as segment_customers,
    by_plan.customers as plan_customers
from by_segment
full outer join by_plan
    on by_plan.month_start = by_segment.month_start
where by_plan.mrr_usd is distinct from by_segment.mrr_usd
   or by_plan.customers is distinct from by_segment.customers
