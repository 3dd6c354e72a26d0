-- The monthly MRR deduplicated, parsed and within range, but the rows of orphan accounts kept.
with raw as (
    select distinct account_id, date_key, trim(coalesce(mrr, mrr_usd)) as mrr_text
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

select account_id, date_key, mrr
from parsed
where mrr between 50 and 20000 or mrr is null
