{# One row per account and month with the plan valid that month: the fact rows carry the key of their SCD2
   version, so the join needs no date range. `since_column` > `since` keeps only what is new since the last
   run: on _loaded_at it picks up rows that landed late, on date_key it misses them. #}
{% macro growing_account_months(since_column=none, since=none) %}
select
    engagement.account_id,
    engagement.date_key,
    engagement._loaded_at,
    engagement.engagement,
    mrr.mrr,
    plan.plan
from {{ source('growing', 'fct_engagement') }} as engagement
inner join {{ source('growing', 'fct_mrr') }} as mrr using (account_id, date_key)
inner join {{ source('growing', 'dim_account_plan_history') }} as plan
    on plan.plan_history_id = engagement.plan_history_id
{% if since %}
where engagement.{{ since_column }} > ({{ since }})
{% endif %}
{% endmacro %}
