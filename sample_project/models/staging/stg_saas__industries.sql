-- One row per industry (reference table).
select
    industry_id,
    industry as industry_name,
    sector
from {{ source('saas', 'dim_industry') }}
