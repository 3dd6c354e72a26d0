-- The same rows as inc_growing__account_months, built from scratch.
{{ config(materialized='table', tags=['loads']) }}
{{ growing_account_months() }}
