-- Cancellation is final, so a cohort's logo retention starts at 100% and can only fall with time.
with curves as (
    select
        arrival_cohort,
        months_since_arrival,
        logo_retention_rate,
        lag(logo_retention_rate) over (partition by arrival_cohort order by months_since_arrival) as previous_rate
    from {{ ref('cohort_retention') }}
)

select *
from curves
where logo_retention_rate > previous_rate
   or (months_since_arrival = 0 and logo_retention_rate <> 1)
