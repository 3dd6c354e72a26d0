-- Does cancellation show in usage first? For every cancelled account, its engagement, logins per user,
-- support tickets and stage in each of the 6 months before its cancellation month and in that month,
-- next to retained peers: accounts of the same segment that never cancelled, in the same calendar months
-- (so seasonality and segment trends cancel out).
with

accounts as (
    select * from {{ ref('int_accounts') }}
),

account_months as (
    select * from {{ ref('int_account_months') }}
),

-- peers: the segment's never-cancelled accounts, pooled per calendar month
peers as (
    select
        account_months.segment,
        account_months.month_start,
        avg(account_months.engagement) as peer_engagement,
        sum(account_months.logins) / nullif(sum(account_months.active_users), 0) as peer_logins_per_user,
        avg(account_months.support_tickets) as peer_support_tickets
    from account_months
    join accounts
        on accounts.account_id = account_months.account_id
    where not accounts.has_cancelled
    group by account_months.segment, account_months.month_start
),

before_cancellation as (
    select
        accounts.segment,
        date_diff('month', account_months.month_start, accounts.cancellation_month) as months_before_cancellation,
        account_months.account_id,
        account_months.engagement,
        account_months.logins,
        account_months.active_users,
        account_months.support_tickets,
        account_months.lifecycle_stage,
        peers.peer_engagement,
        peers.peer_logins_per_user,
        peers.peer_support_tickets
    from accounts
    join account_months
        on account_months.account_id = accounts.account_id
        and account_months.month_start between (accounts.cancellation_month - interval 6 month)::date and accounts.cancellation_month
    left join peers
        on peers.segment = accounts.segment
        and peers.month_start = account_months.month_start
    where accounts.has_cancelled
),

summarized as (
    select
        coalesce(segment, 'all segments') as segment,
        months_before_cancellation,
        count(distinct account_id) as cancelled_accounts,
        avg(engagement) as cancelled_avg_engagement,
        avg(peer_engagement) as peer_avg_engagement,
        sum(logins) / nullif(sum(active_users), 0) as cancelled_logins_per_user,
        avg(peer_logins_per_user) as peer_logins_per_user,
        avg(support_tickets) as cancelled_avg_support_tickets,
        avg(peer_support_tickets) as peer_avg_support_tickets,
        avg((lifecycle_stage = 'at_risk')::integer) as share_at_risk
    from before_cancellation
    group by grouping sets ((segment, months_before_cancellation), (months_before_cancellation))
)

select
    segment,
    months_before_cancellation,
    cancelled_accounts,
    round(cancelled_avg_engagement, 4) as cancelled_avg_engagement,
    round(peer_avg_engagement, 4) as peer_avg_engagement,
    round(cancelled_avg_engagement - peer_avg_engagement, 4) as engagement_gap,
    round(cancelled_logins_per_user, 2) as cancelled_logins_per_user,
    round(peer_logins_per_user, 2) as peer_logins_per_user,
    round(cancelled_avg_support_tickets, 2) as cancelled_avg_support_tickets,
    round(peer_avg_support_tickets, 2) as peer_avg_support_tickets,
    round(share_at_risk, 4) as share_at_risk
from summarized
