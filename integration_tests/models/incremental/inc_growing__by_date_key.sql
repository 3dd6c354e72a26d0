-- The classic mistake: incremental on the period, so rows that land late (after a later period was loaded)
-- are never picked up. The integration test proves it differs from the full build.
{{ config(materialized='incremental', unique_key=['account_id', 'date_key'], tags=['loads']) }}
{{ growing_account_months('date_key', "select max(date_key) from " ~ this if is_incremental() else none) }}
