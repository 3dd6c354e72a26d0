-- Conservation of accounts: over the window, the MRR bridge welcomes every account exactly once and loses
-- every cancelled account exactly once, and the customers left at the end are the accounts that did not
-- cancel. Returns a row when a count differs from staging.
with

bridge as (
    select
        sum(new_customers) as new_customers,
        sum(churned_customers) as churned_customers,
        sum(closing_customers) filter (where month_start = (select max(month_start) from {{ ref('mrr_movements') }}))
            as final_customers
    from {{ ref('mrr_movements') }}
),

staged as (
    select
        (select count(*) from {{ ref('stg_saas__accounts') }}) as accounts,
        (select count(*) from {{ ref('stg_saas__cancellations') }}) as cancellations
)

select bridge.*, staged.*
from bridge
cross join staged
where bridge.new_customers <> staged.accounts
   or bridge.churned_customers <> staged.cancellations
   or bridge.final_customers <> staged.accounts - staged.cancellations
