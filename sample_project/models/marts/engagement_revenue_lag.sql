-- Does revenue follow usage? Correlation between the month-over-month change in an account's engagement
-- and the change in its MRR L months later, pooled over all accounts, for L = 0..6.
{%- set max_lag = 6 %}

with

account_months as (
    select * from {{ ref('int_account_months') }}
),

-- changes from reported values only: a month with a missing value gives no change on either side
changes as (
    select
        account_id,
        month_index,
        engagement,
        mrr_usd::double as mrr_usd,
        engagement - lag(engagement) over account_history as engagement_change,
        mrr_usd::double - lag(mrr_usd::double) over account_history as mrr_change_usd
    from account_months
    window account_history as (partition by account_id order by month_index)
),

lags as (
    select unnest(range(0, {{ max_lag }} + 1)) as lag_months
),

pairs as (
    select
        lags.lag_months,
        driver.engagement_change,
        follower.mrr_change_usd,
        driver.engagement,
        follower.mrr_usd
    from lags
    cross join changes as driver
    join changes as follower
        on follower.account_id = driver.account_id
        and follower.month_index = driver.month_index + lags.lag_months
),

by_lag as (
    select
        lag_months,
        count(engagement_change + mrr_change_usd) as n_pairs,
        corr(mrr_change_usd, engagement_change) as change_correlation,
        corr(mrr_usd, engagement) as level_correlation
    from pairs
    group by lag_months
)

select
    lag_months,
    n_pairs,
    round(change_correlation, 4) as change_correlation,
    round(level_correlation, 4) as level_correlation,
    change_correlation = max(change_correlation) over () as is_peak
from by_lag
