-- One row per account: in how many of the two systems it is (every account is in one at least).
select accounts.account_id, count(distinct systems.system) as n_systems
from (select distinct account_id from {{ source('messy', 'dim_account') }}) as accounts
left join {{ ref('stg_messy__system_accounts') }} as systems on systems.account_id = accounts.account_id
group by accounts.account_id
