-- Nothing happens to an account before its arrival month or after its cancellation month: no usage, stage,
-- login or invoice, and no user still counted. Checked on the staged feeds against int_accounts, so a
-- cancellation feed that disagrees with the activity feeds fails here too.
with

accounts as (
    select account_id, arrival_month, last_month from {{ ref('int_accounts') }}
),

activity as (
    select 'usage' as feed, account_id, month_start from {{ ref('stg_saas__account_usage_monthly') }}
    union all
    select 'stage', account_id, month_start from {{ ref('stg_saas__account_stages') }}
    union all
    select 'login', account_id, login_month from {{ ref('stg_saas__user_logins') }}
    union all
    select 'invoice', account_id, invoice_month from {{ ref('stg_saas__invoices') }}
    union all
    select 'active users', account_id, month_start from {{ ref('int_account_activity_monthly') }}
)

select
    activity.feed,
    activity.account_id,
    activity.month_start,
    accounts.arrival_month,
    accounts.last_month
from activity
join accounts
    on accounts.account_id = activity.account_id
where activity.month_start < accounts.arrival_month
   or activity.month_start > accounts.last_month
