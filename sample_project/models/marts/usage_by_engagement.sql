-- What engagement means in the product: per band of reported engagement (0.0-0.1 ... 0.9-1.0), the named
-- users, logins and MRR of the account-months in that band.
with

account_months as (
    select * from {{ ref('int_account_months') }}
    where engagement is not null
),

banded as (
    select
        *,
        least(floor(engagement * 10), 9)::integer as band_index
    from account_months
)

select
    printf('%.1f-%.1f', band_index / 10, (band_index + 1) / 10) as engagement_band,
    band_index / 10 as band_lower,
    (band_index + 1) / 10 as band_upper,
    count(*) as account_months,
    round(avg(engagement), 4) as avg_engagement,
    round(avg(paid_seats), 2) as avg_paid_seats,
    round(avg(active_users), 2) as avg_active_users,
    round(avg(logins), 2) as avg_logins_per_account,
    round(sum(logins) / nullif(sum(active_users), 0), 3) as logins_per_active_user,
    round(sum(users_logged_in) / nullif(sum(active_users), 0), 4) as share_of_users_logged_in,
    round(avg(mrr_usd), 2) as avg_mrr_usd
from banded
group by band_index
