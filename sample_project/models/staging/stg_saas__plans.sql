-- One row per subscription plan (price list), with its tier: 1 for the cheapest, rising with the price.
-- Upgrades and downgrades are moves between tiers.
select
    plan_id,
    plan as plan_name,
    rank() over (order by monthly_price) as plan_tier,
    monthly_price::decimal(12, 2) as list_price_per_seat_usd,
    included_seats::integer as included_seats
from {{ source('saas', 'dim_plan') }}
