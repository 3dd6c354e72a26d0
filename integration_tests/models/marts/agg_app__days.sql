-- One row per day across all users.
select
    dim_date.date_key,
    dim_date.period_start,
    dim_date.is_weekend,
    sum(daily.sessions) as sessions,
    sum(daily.purchases) as purchases
from {{ source('app_daily', 'fct_user_daily') }} as daily
inner join {{ source('app_daily', 'dim_date') }} as dim_date using (date_key)
group by dim_date.date_key, dim_date.period_start, dim_date.is_weekend
