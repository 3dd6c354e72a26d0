-- Every login lands in exactly one account-month: the logins counted in int_account_activity_monthly and
-- in int_account_months add up to the logins in staging. A login outside the account's lifetime, or a
-- user-month join that fans out, shows here.
with counts as (
    select
        (select count(*) from {{ ref('stg_saas__user_logins') }}) as staged_logins,
        (select sum(logins) from {{ ref('int_account_activity_monthly') }}) as activity_logins,
        (select sum(logins) from {{ ref('int_account_months') }}) as account_month_logins
)

select *
from counts
where activity_logins is distinct from staged_logins
   or account_month_logins is distinct from staged_logins
