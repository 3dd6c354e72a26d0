-- Built once, then one month at a time as the source grows: equal to full_growing__account_months.
{{ config(materialized='incremental', unique_key=['account_id', 'date_key'], tags=['loads']) }}
{{ growing_account_months(since="select max(date_key) from " ~ this if is_incremental() else none) }}
