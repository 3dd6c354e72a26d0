-- The lifecycle funnel per segment (and for all segments): how many accounts reached each stage, how
-- long after arrival, where they are at the end of the window, and how many of those that reached a
-- stage went on to cancel.
with

accounts as (
    select * from {{ ref('int_accounts') }}
),

account_months as (
    select * from {{ ref('int_account_months') }}
),

stages as (
    select * from (values ('trial', 1), ('active', 2), ('at_risk', 3), ('churned', 4)) as stages (lifecycle_stage, stage_order)
),

-- first month each account was in each stage
first_reached as (
    select
        account_id,
        lifecycle_stage,
        min(months_since_arrival) as months_to_reach
    from account_months
    group by account_id, lifecycle_stage
),

-- each account's stage in its last month: the end of the window, or its cancellation month
stage_at_end as (
    select
        account_id,
        lifecycle_stage
    from account_months
    qualify row_number() over (partition by account_id order by month_index desc) = 1
),

account_stages as (
    select
        accounts.account_id,
        accounts.segment,
        accounts.has_cancelled,
        stages.lifecycle_stage,
        stages.stage_order,
        first_reached.months_to_reach,
        first_reached.account_id is not null as has_reached,
        stage_at_end.account_id is not null as is_in_stage_at_end
    from accounts
    cross join stages
    left join first_reached
        on first_reached.account_id = accounts.account_id
        and first_reached.lifecycle_stage = stages.lifecycle_stage
    left join stage_at_end
        on stage_at_end.account_id = accounts.account_id
        and stage_at_end.lifecycle_stage = stages.lifecycle_stage
),

summarized as (
    select
        coalesce(segment, 'all segments') as segment,
        lifecycle_stage,
        any_value(stage_order) as stage_order,
        count(*) as accounts,
        count(*) filter (where has_reached) as accounts_reached,
        median(months_to_reach) as median_months_to_reach,
        count(*) filter (where is_in_stage_at_end) as accounts_in_stage_at_end,
        count(*) filter (where has_reached and has_cancelled) as reached_then_cancelled
    from account_stages
    group by grouping sets ((segment, lifecycle_stage), (lifecycle_stage))
)

select
    segment,
    lifecycle_stage,
    stage_order,
    accounts,
    accounts_reached,
    round(accounts_reached / accounts, 4) as share_reached,
    median_months_to_reach,
    accounts_in_stage_at_end,
    reached_then_cancelled,
    round(reached_then_cancelled / nullif(accounts_reached, 0), 4) as cancellation_rate_after_reaching
from summarized
