-- One row per account, as the CRM knows it. Left out: the generator's ground truth (archetype, start and
-- end position), the billing e-mail address (personal data; only its domain is kept), and ended_date_key
-- (cancellations come from their own feed, stg_saas__cancellations; a test checks the two agree).
-- The export repeats some accounts as exact copies: one row each is kept.
select
    account_id,
    account_code,
    company_name,
    split_part(billing_email, '@', 2) as billing_email_domain,
    industry_id,
    region,
    employees::integer as employees,
    segment,
    signup_date,
    {{ date_key_to_date('first_date_key') }} as arrival_month,
    plan as current_plan_name
from {{ source('saas', 'dim_account') }}
qualify row_number() over (partition by account_id order by account_id) = 1
