-- The lag measured in engagement_revenue_lag (its single peak) is the lag the generator declared for
-- "mrr follows engagement", recorded in raw_saas._plotsim_relations. Returns a row when they differ.
with

declared as (
    select value::integer as declared_lag
    from {{ source('saas', '_plotsim_relations') }}
    where kind = 'lag' and metric = 'mrr' and other = 'engagement'
),

measured as (
    select
        count(*) filter (where is_peak) as n_peaks,
        max(lag_months) filter (where is_peak) as measured_lag
    from {{ ref('engagement_revenue_lag') }}
)

select measured.n_peaks, measured.measured_lag, declared.declared_lag
from measured
full outer join declared on true
where measured.n_peaks is distinct from 1
   or declared.declared_lag is null
   or measured.measured_lag is distinct from declared.declared_lag
