-- No account appears or disappears: every month, active accounts + accounts churned so far = all accounts.
with

monthly as (
    select
        month_start,
        sum(active_accounts) as active_accounts,
        sum(churned_accounts) as churned_this_month
    from {{ ref('mrr_by_month_segment') }}
    group by month_start
),

running as (
    select
        month_start,
        active_accounts,
        sum(churned_this_month) over (order by month_start) as churned_so_far
    from monthly
)

select running.*, accounts.n_accounts
from running
cross join (select count(*) as n_accounts from {{ ref('stg_saas__accounts') }}) as accounts
where running.active_accounts + running.churned_so_far <> accounts.n_accounts
