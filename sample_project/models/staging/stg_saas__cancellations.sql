-- One row per cancelled subscription: the account, the month and the moment it cancelled. An account has
-- no data after its cancellation month.
select
    churn_id as cancellation_id,
    account_id,
    {{ date_key_to_date('date_key') }} as cancellation_month,
    occurred_at as cancelled_at
from {{ source('saas', 'evt_churn') }}
