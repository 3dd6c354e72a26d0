-- Retention curves of signup cohorts: per arrival quarter and N = 0..24 months after each account's own
-- arrival month, the share of the cohort still a customer (logo retention) and the cohort's MRR relative
-- to its MRR in the arrival month (net MRR retention). Definitions in models/_definitions.md.
{%- set horizon = var('retention_horizon_months') | int %}

with

accounts as (
    select * from {{ ref('int_accounts') }}
),

account_months as (
    select * from {{ ref('int_account_months') }}
),

last_month as (
    select max(month_start) as month_start from {{ ref('stg_saas__months') }}
),

cohorts as (
    select
        accounts.arrival_cohort,
        min(accounts.arrival_month) as cohort_first_month,
        count(*) as cohort_size,
        -- the largest N observed for every account of the cohort (the window ends in last_month)
        least({{ horizon }}, date_diff('month', max(accounts.arrival_month), any_value(last_month.month_start)))
            as max_months_observed
    from accounts
    cross join last_month
    group by accounts.arrival_cohort
),

offsets as (
    select unnest(range(0, {{ horizon }} + 1)) as months_since_arrival
),

-- a cancelled account has no row after its cancellation month, so it simply stops counting
cohort_months as (
    select
        accounts.arrival_cohort,
        account_months.months_since_arrival,
        count(*) filter (where account_months.is_customer) as retained_customers,
        sum(account_months.customer_mrr_usd) as cohort_mrr_usd
    from account_months
    join accounts
        on accounts.account_id = account_months.account_id
    group by accounts.arrival_cohort, account_months.months_since_arrival
),

curves as (
    select
        cohorts.arrival_cohort,
        cohorts.cohort_first_month,
        cohorts.cohort_size,
        offsets.months_since_arrival,
        coalesce(cohort_months.retained_customers, 0) as retained_customers,
        coalesce(cohort_months.cohort_mrr_usd, 0) as cohort_mrr_usd
    from cohorts
    join offsets
        on offsets.months_since_arrival <= cohorts.max_months_observed
    left join cohort_months
        on cohort_months.arrival_cohort = cohorts.arrival_cohort
        and cohort_months.months_since_arrival = offsets.months_since_arrival
)

select
    arrival_cohort,
    cohort_first_month,
    cohort_size,
    months_since_arrival,
    retained_customers,
    round(retained_customers / cohort_size, 4) as logo_retention_rate,
    cohort_mrr_usd,
    round(
        cohort_mrr_usd / nullif(first_value(cohort_mrr_usd) over (
            partition by arrival_cohort order by months_since_arrival
        ), 0),
        4
    ) as net_mrr_retention_rate
from curves
