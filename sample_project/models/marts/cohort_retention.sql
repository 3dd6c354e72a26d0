-- Share of each activation cohort not churned N months after activation (definition in the YAML).
{%- set horizon = var('retention_horizon_months') | int %}

with

lifecycle as (
    select * from {{ ref('int_account_lifecycle') }}
    where activation_month_index is not null
),

last_month as (
    select max(month_index) as month_index from {{ ref('stg_saas__months') }}
),

cohorts as (
    select
        activation_cohort,
        min(activation_month) as cohort_first_month,
        count(*) as cohort_size,
        -- the largest N observed for every account of the cohort
        least({{ horizon }}, (select month_index from last_month) - max(activation_month_index)) as max_months_observed
    from lifecycle
    group by activation_cohort
),

offsets as (
    select unnest(range(0, {{ horizon }} + 1)) as months_since_activation
),

retained as (
    select
        cohorts.activation_cohort,
        offsets.months_since_activation,
        count(*) filter (
            where lifecycle.churn_month_index is null
               or lifecycle.churn_month_index > lifecycle.activation_month_index + offsets.months_since_activation
        ) as retained_accounts
    from cohorts
    join offsets
        on offsets.months_since_activation <= cohorts.max_months_observed
    join lifecycle
        on lifecycle.activation_cohort = cohorts.activation_cohort
    group by cohorts.activation_cohort, offsets.months_since_activation
)

select
    cohorts.activation_cohort,
    cohorts.cohort_first_month,
    cohorts.cohort_size,
    retained.months_since_activation,
    retained.retained_accounts,
    round(retained.retained_accounts / cohorts.cohort_size, 4) as retention_rate
from retained
join cohorts using (activation_cohort)
