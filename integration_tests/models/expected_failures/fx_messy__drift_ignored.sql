-- The monthly MRR cleaned, except that the column the source renamed in October (mrr_usd) is ignored.
with raw as (
    select distinct account_id, date_key, trim(mrr) as mrr_text
    from {{ source('messy', 'fct_mrr') }}
),

parsed as (
    select account_id, date_key, {{ parsed_mrr('mrr_text') }} as mrr
    from raw
)

select m.account_id, m.date_key, m.mrr
from parsed m
join {{ source('messy', 'dim_account') }} a on a.account_id = m.account_id
where m.mrr between 50 and 20000 or m.mrr is null
