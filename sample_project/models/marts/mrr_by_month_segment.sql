-- MRR, active accounts, ARPA and the month's MRR movement, per month and segment.
with

account_months as (
    select * from {{ ref('int_account_months') }}
),

monthly as (
    select
        month_start,
        segment,
        count(*) filter (where not is_churned) as active_accounts,
        coalesce(sum(mrr_filled_usd) filter (where not is_churned), 0) as mrr_usd,
        count(*) filter (where is_churn_month) as churned_accounts,
        coalesce(sum(previous_mrr_filled_usd) filter (where is_churn_month), 0) as churned_mrr_usd,
        -- change in MRR of the accounts active in both this month and the previous one
        coalesce(sum(mrr_filled_usd - previous_mrr_filled_usd) filter (where not is_churned), 0)
            as retained_mrr_change_usd
    from account_months
    group by month_start, segment
)

select
    month_start,
    segment,
    active_accounts,
    mrr_usd,
    (mrr_usd / nullif(active_accounts, 0))::decimal(12, 2) as arpa_usd,
    mrr_usd - lag(mrr_usd) over (partition by segment order by month_start) as net_new_mrr_usd,
    case when month_start > min(month_start) over () then retained_mrr_change_usd end as retained_mrr_change_usd,
    churned_accounts,
    churned_mrr_usd
from monthly
