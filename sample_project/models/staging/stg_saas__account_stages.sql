-- One row per account and month it exists: the lifecycle stage customer success assigned.
select
    account_id,
    {{ date_key_to_date('date_key') }} as month_start,
    stage as lifecycle_stage
from {{ source('saas', 'fct_account_stage') }}
