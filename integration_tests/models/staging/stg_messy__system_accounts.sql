-- Every record of the CRM and the billing system with the true account it belongs to, from the
-- crosswalk: the input an entity-resolution model is scored against.
with records as (
    select 'crm' as system, crm_account_id as system_key, company_name from {{ source('messy', 'src_crm_account') }}
    union all
    select 'billing', billing_account_id, company_name from {{ source('messy', 'src_billing_account') }}
)

select records.system, records.system_key, crosswalk.account_id, crosswalk.is_duplicate, records.company_name
from records
left join {{ source('messy', '_plotsim_crosswalk') }} as crosswalk
  on crosswalk.system = records.system and crosswalk.system_key = records.system_key
