-- One row per account; regions outside the known ones become null.
select distinct
    account_id,
    account_code,
    company_name,
    case when region in ('north_america', 'emea', 'apac') then region end as region
from {{ source('messy', 'dim_account') }}
