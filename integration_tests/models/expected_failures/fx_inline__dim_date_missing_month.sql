-- dim_date without June 2024: a gap in the month spine.
select *
from {{ source('inline', 'dim_date') }}
where year_month <> '2024-06'
