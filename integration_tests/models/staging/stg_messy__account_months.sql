-- One row per account and month, only accounts that exist, only MRR within its range: the text MRR
-- parsed (N/A becomes null), the column renamed in October taken back, June's second load dropped.
with raw as (
    select distinct account_id, date_key, trim(coalesce(mrr, mrr_usd)) as mrr_text
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
group by all
