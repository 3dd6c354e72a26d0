-- One row per calendar month: the date spine every monthly model joins to.
select
    date_key,
    period_start as month_start,
    period_end as month_end,
    period_index as month_index,
    year::integer as calendar_year,
    quarter::integer as calendar_quarter,
    month::integer as month_of_year,
    month_name,
    year_month,
    year::varchar || '-Q' || quarter::varchar as year_quarter
from {{ source('saas', 'dim_date') }}
