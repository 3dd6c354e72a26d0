-- The monthly MRR deduplicated and within range, but the rows of orphan accounts kept.
select distinct account_id, date_key, mrr
from {{ source('messy', 'fct_mrr') }}
where mrr between 50 and 20000
