-- One row per account: its attributes and its lifetime, from the arrival month to the cancellation month
-- (or the last month of the window while it is still a customer). Every monthly model takes its
-- account x month grid from here.
with

accounts as (
    select * from {{ ref('stg_saas__accounts') }}
),

industries as (
    select * from {{ ref('stg_saas__industries') }}
),

cancellations as (
    select * from {{ ref('stg_saas__cancellations') }}
),

months as (
    select * from {{ ref('stg_saas__months') }}
),

window_end as (
    select max(month_start) as last_month from months
)

select
    accounts.account_id,
    accounts.account_code,
    accounts.company_name,
    accounts.segment,
    accounts.region,
    industries.industry_name,
    industries.sector,
    accounts.employees,
    accounts.signup_date,
    accounts.arrival_month,
    arrival.year_quarter as arrival_cohort,
    cancellations.cancellation_month,
    cancellations.cancellation_month is not null as has_cancelled,
    coalesce(cancellations.cancellation_month, window_end.last_month) as last_month
from accounts
cross join window_end
left join industries
    on industries.industry_id = accounts.industry_id
left join cancellations
    on cancellations.account_id = accounts.account_id
left join months as arrival
    on arrival.month_start = accounts.arrival_month
