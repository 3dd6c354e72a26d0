-- Ground truth: the template draws each user's logins at a rate that follows the account's engagement
-- (`events: login: rate: {mean: 3, follows: engagement}`), so logins per user rise from every engagement
-- band to the next. A row names a band where they do not.
with bands as (
    select
        engagement_band,
        logins_per_active_user,
        lag(logins_per_active_user) over (order by band_lower) as lower_band_logins_per_user
    from {{ ref('usage_by_engagement') }}
)

select *
from bands
where logins_per_active_user <= lower_band_logins_per_user
