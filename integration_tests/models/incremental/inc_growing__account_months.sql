-- Built once, then with what landed since the last run: equal to full_growing__account_months, late rows
-- included, because it filters on _loaded_at.
{{ config(materialized='incremental', unique_key=['account_id', 'date_key'], tags=['loads']) }}
{{ growing_account_months('_loaded_at', "select max(_loaded_at) from " ~ this if is_incremental() else none) }}
