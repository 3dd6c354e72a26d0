-- One row per account and month of its lifetime with at least one user: named users and their logins.
-- A user counts from created_month up to, not including, removed_month. Users of a cancelled account are
-- often never removed in the user table, so months after the account's cancellation are cut off here.
with

users as (
    select * from {{ ref('stg_saas__users') }}
),

logins as (
    select * from {{ ref('stg_saas__user_logins') }}
),

accounts as (
    select * from {{ ref('int_accounts') }}
),

months as (
    select * from {{ ref('stg_saas__months') }}
),

user_months as (
    select
        users.account_id,
        users.user_id,
        months.month_start,
        users.created_month = months.month_start as is_new_user
    from users
    join accounts
        on accounts.account_id = users.account_id
    join months
        on months.month_start >= users.created_month
        and (users.removed_month is null or months.month_start < users.removed_month)
        and months.month_start <= accounts.last_month
),

active_users as (
    select
        account_id,
        month_start,
        count(*) as active_users,
        count(*) filter (where is_new_user) as users_added
    from user_months
    group by account_id, month_start
),

removed_users as (
    select
        account_id,
        removed_month as month_start,
        count(*) as users_removed
    from users
    where removed_month is not null
    group by account_id, removed_month
),

monthly_logins as (
    select
        account_id,
        login_month as month_start,
        count(*) as logins,
        count(distinct user_id) as users_logged_in
    from logins
    group by account_id, login_month
)

select
    active_users.account_id,
    active_users.month_start,
    active_users.active_users,
    active_users.users_added,
    coalesce(removed_users.users_removed, 0) as users_removed,
    coalesce(monthly_logins.logins, 0) as logins,
    coalesce(monthly_logins.users_logged_in, 0) as users_logged_in
from active_users
left join removed_users
    on removed_users.account_id = active_users.account_id
    and removed_users.month_start = active_users.month_start
left join monthly_logins
    on monthly_logins.account_id = active_users.account_id
    and monthly_logins.month_start = active_users.month_start
