-- One row per named user of an account. A user counts from created_month (inclusive) until removed_month
-- (exclusive: the first month without the user); removed_month is null while the user remains.
select
    user_id,
    account_id,
    {{ date_key_to_date('created_date_key') }} as created_month,
    {{ date_key_to_date('removed_date_key') }} as removed_month
from {{ source('saas', 'dim_user') }}
