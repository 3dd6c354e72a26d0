-- One row per version of an account's plan (SCD type 2). A version holds from valid_from (inclusive) to
-- valid_to (exclusive); the current one has no valid_to. Both are first days of months.
select
    plan_history_id as plan_version_id,
    account_id,
    plan as plan_name,
    valid_from,
    valid_to,
    is_current
from {{ source('saas', 'dim_account_plan_history') }}
