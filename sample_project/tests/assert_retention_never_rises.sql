-- Churn is final, so a cohort's retention can only fall with time, and starts at 100%.
with curves as (
    select
        activation_cohort,
        months_since_activation,
        retention_rate,
        lag(retention_rate) over (partition by activation_cohort order by months_since_activation) as previous_rate
    from {{ ref('cohort_retention') }}
)

select *
from curves
where retention_rate > previous_rate
   or (months_since_activation = 0 and retention_rate <> 1)
