-- The MRR bridge per month and segment: opening MRR + new + expansion - contraction - churned = closing MRR,
-- with the same bridge for customer counts. Rules (customer months, month-end MRR) in int_account_months.
with

account_months as (
    select * from {{ ref('int_account_months') }}
),

months as (
    select month_start from {{ ref('stg_saas__months') }}
),

segments as (
    select distinct segment from {{ ref('int_accounts') }}
),

-- each account-month classified once: how it moves the month's MRR
movements as (
    select
        month_start,
        segment,
        was_customer,
        is_customer,
        previous_customer_mrr_usd,
        customer_mrr_usd,
        case when is_customer and not was_customer then customer_mrr_usd else 0 end as new_mrr_usd,
        case when is_customer and was_customer
            then greatest(customer_mrr_usd - previous_customer_mrr_usd, 0) else 0 end as expansion_mrr_usd,
        case when is_customer and was_customer
            then greatest(previous_customer_mrr_usd - customer_mrr_usd, 0) else 0 end as contraction_mrr_usd,
        case when was_customer and not is_customer then previous_customer_mrr_usd else 0 end as churned_mrr_usd
    from account_months
),

monthly as (
    select
        month_start,
        segment,
        count(*) filter (where was_customer) as opening_customers,
        count(*) filter (where is_customer and not was_customer) as new_customers,
        count(*) filter (where was_customer and not is_customer) as churned_customers,
        count(*) filter (where is_customer) as closing_customers,
        sum(previous_customer_mrr_usd) as opening_mrr_usd,
        sum(new_mrr_usd) as new_mrr_usd,
        sum(expansion_mrr_usd) as expansion_mrr_usd,
        sum(contraction_mrr_usd) as contraction_mrr_usd,
        sum(churned_mrr_usd) as churned_mrr_usd,
        sum(customer_mrr_usd) as closing_mrr_usd
    from movements
    group by month_start, segment
)

-- every month x segment, also before a segment's first customer arrives
select
    months.month_start,
    segments.segment,
    coalesce(monthly.opening_customers, 0) as opening_customers,
    coalesce(monthly.new_customers, 0) as new_customers,
    coalesce(monthly.churned_customers, 0) as churned_customers,
    coalesce(monthly.closing_customers, 0) as closing_customers,
    coalesce(monthly.opening_mrr_usd, 0) as opening_mrr_usd,
    coalesce(monthly.new_mrr_usd, 0) as new_mrr_usd,
    coalesce(monthly.expansion_mrr_usd, 0) as expansion_mrr_usd,
    coalesce(monthly.contraction_mrr_usd, 0) as contraction_mrr_usd,
    coalesce(monthly.churned_mrr_usd, 0) as churned_mrr_usd,
    coalesce(monthly.closing_mrr_usd, 0) as closing_mrr_usd,
    coalesce(monthly.closing_mrr_usd, 0) - coalesce(monthly.opening_mrr_usd, 0) as net_new_mrr_usd,
    (monthly.closing_mrr_usd / nullif(monthly.closing_customers, 0))::decimal(12, 2) as arpa_usd
from months
cross join segments
left join monthly
    on monthly.month_start = months.month_start
    and monthly.segment = segments.segment
