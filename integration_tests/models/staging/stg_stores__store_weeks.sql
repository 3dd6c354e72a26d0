-- One row per store and week, over the Parquet-backed source (views on the files).
select
    footfall.store_id,
    footfall.date_key,
    dim_date.period_start,
    dim_date.iso_week,
    footfall.footfall,
    sales.sales,
    basket.basket_size
from {{ source('stores', 'fct_footfall') }} as footfall
inner join {{ source('stores', 'fct_sales') }} as sales using (store_id, date_key)
inner join {{ source('stores', 'fct_basket_size') }} as basket using (store_id, date_key)
inner join {{ source('stores', 'dim_date') }} as dim_date using (date_key)
