-- One row per login of a user (about 1.8 million rows: a view, aggregated once in int_account_activity_monthly).
-- A month the source loaded twice repeats its logins exactly: `distinct` keeps one of each.
select distinct
    user_login_id as login_id,
    user_id,
    account_id,
    {{ date_key_to_date('date_key') }} as login_month,
    occurred_at as logged_in_at
from {{ source('saas', 'evt_user_login') }}
