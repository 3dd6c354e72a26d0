-- The weekly dim_date with its eleventh week twice: a duplicate in the week spine.
select * from {{ source('stores', 'dim_date') }}

union all

select * from {{ source('stores', 'dim_date') }}
where period_index = 10
