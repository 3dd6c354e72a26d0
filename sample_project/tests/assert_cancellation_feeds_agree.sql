-- Three systems record a cancellation: the cancellation events, the CRM (dim_account.ended_date_key) and
-- the stage feed (stage `churned`). They must name the same accounts and the same months.
with

events as (
    select account_id, cancellation_month from {{ ref('stg_saas__cancellations') }}
),

crm as (
    select account_id, {{ date_key_to_date('ended_date_key') }} as cancellation_month
    from {{ source('saas', 'dim_account') }}
    where ended_date_key is not null
),

stages as (
    select account_id, month_start as cancellation_month
    from {{ ref('stg_saas__account_stages') }}
    where lifecycle_stage = 'churned'
),

all_accounts as (
    select account_id from events
    union
    select account_id from crm
    union
    select account_id from stages
)

select
    all_accounts.account_id,
    events.cancellation_month as event_month,
    crm.cancellation_month as crm_month,
    stages.cancellation_month as stage_month
from all_accounts
left join events on events.account_id = all_accounts.account_id
left join crm on crm.account_id = all_accounts.account_id
left join stages on stages.account_id = all_accounts.account_id
where events.cancellation_month is distinct from crm.cancellation_month
   or events.cancellation_month is distinct from stages.cancellation_month
