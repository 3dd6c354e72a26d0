-- One row per account and month, only accounts that exist, only MRR within its range.
select distinct m.account_id, m.date_key, m.mrr
from {{ source('messy', 'fct_mrr') }} m
join {{ source('messy', 'dim_account') }} a on a.account_id = m.account_id
where m.mrr between 50 and 20000
