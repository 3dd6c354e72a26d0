-- The monthly MRR cleaned, except that the column the source renamed in October (mrr_usd) is ignored.
with raw as (
    select distinct account_id, date_key, trim(mrr) as mrr_text
    from {{ source('messy', 'fct_mrr') }}
),

parsed as (  -- hand-typed numbers: a last mark ',' is a decimal comma ("1.234,50"), else ',' groups
    select account_id, date_key,
        case when mrr_text in ('N/A', '') then null
             when regexp_matches(mrr_text, ',[0-9]+$')
                 then cast(replace(replace(replace(mrr_text, '$', ''), '.', ''), ',', '.') as double)
             else cast(replace(replace(mrr_text, '$', ''), ',', '') as double) end as mrr
    from raw
)

select m.account_id, m.date_key, m.mrr
from parsed m
join {{ source('messy', 'dim_account') }} a on a.account_id = m.account_id
where m.mrr between 50 and 20000 or m.mrr is null
