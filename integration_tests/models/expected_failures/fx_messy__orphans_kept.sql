-- The monthly MRR deduplicated, parsed and within range, but the rows of orphan accounts kept.
with raw as (
    select distinct account_id, date_key, trim(coalesce(mrr, mrr_usd)) as mrr_text
    from {{ source('messy', 'fct_mrr') }}
),

parsed as (
    select account_id, date_key, {{ parsed_mrr('mrr_text') }} as mrr
    from raw
)

select account_id, date_key, mrr
from parsed
where mrr between 50 and 20000 or mrr is null
