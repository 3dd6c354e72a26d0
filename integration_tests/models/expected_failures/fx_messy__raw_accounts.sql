-- The raw accounts passed through: every defect is still there.
select * from {{ source('messy', 'dim_account') }}
