-- One row per account. The generator's ground-truth columns (archetype, start/end position) are left out:
-- the analytics must find the behaviour in the metrics, as they would with real data.
select
    account_id,
    account_code,
    segment
from {{ source('saas', 'dim_account') }}
