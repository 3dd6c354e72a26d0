-- Engagement and support load of accounts in the 3 months before they churned, next to retained peers
-- of the same segment in the same calendar months.
with

account_months as (
    select * from {{ ref('int_account_months') }}
),

lifecycle as (
    select * from {{ ref('int_account_lifecycle') }}
),

-- peers: accounts of the segment that never churned, averaged per calendar month
peers as (
    select
        account_months.segment,
        account_months.month_index,
        avg(account_months.engagement) as peer_engagement,
        avg(account_months.support_tickets) as peer_support_tickets
    from account_months
    join lifecycle using (account_id)
    where not lifecycle.has_churned
    group by all
),

before_churn as (
    select
        lifecycle.segment,
        lifecycle.churn_month_index - account_months.month_index as months_before_churn,
        account_months.account_id,
        account_months.engagement,
        account_months.support_tickets,
        peers.peer_engagement,
        peers.peer_support_tickets
    from lifecycle
    join account_months
        on account_months.account_id = lifecycle.account_id
        and account_months.month_index between lifecycle.churn_month_index - 3 and lifecycle.churn_month_index - 1
    join peers
        on peers.segment = lifecycle.segment
        and peers.month_index = account_months.month_index
    where lifecycle.has_churned
),

summarized as (
    select
        coalesce(segment, 'all segments') as segment,
        months_before_churn,
        count(distinct account_id) as churned_accounts,
        avg(engagement) as churned_avg_engagement,
        avg(peer_engagement) as peer_avg_engagement,
        avg(support_tickets) as churned_avg_support_tickets,
        avg(peer_support_tickets) as peer_avg_support_tickets
    from before_churn
    group by grouping sets ((segment, months_before_churn), (months_before_churn))
)

select
    segment,
    months_before_churn,
    churned_accounts,
    round(churned_avg_engagement, 4) as churned_avg_engagement,
    round(peer_avg_engagement, 4) as peer_avg_engagement,
    round(churned_avg_engagement - peer_avg_engagement, 4) as engagement_gap,
    round(churned_avg_support_tickets, 2) as churned_avg_support_tickets,
    round(peer_avg_support_tickets, 2) as peer_avg_support_tickets
from summarized
