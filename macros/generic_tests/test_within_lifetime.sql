{#
  No row of the model belongs to an entity before its arrival or after its end (a terminal event such as
  churn). The entity dimension records both as date keys; give the ones your spec produces.

    - name: fct_mrr
      data_tests:
        - dbt_plotsim.within_lifetime:
            arguments:
              entity: company_id
              entity_model: source('saas', 'dim_company')
              first_column: first_date_key        # optional: no rows before arrival
              ended_column: ended_date_key        # optional: no rows after the end (null while active)
              period: date_key                    # default

  Failing rows: the offending rows with the entity's bounds.
#}
{% test within_lifetime(model, entity, entity_model, first_column=none, ended_column=none, period='date_key') %}
  {{ return(adapter.dispatch('within_lifetime', 'dbt_plotsim')(model, entity, entity_model, first_column, ended_column, period)) }}
{% endtest %}

{% macro default__within_lifetime(model, entity, entity_model, first_column, ended_column, period) %}
{% if not first_column and not ended_column %}
  {% do exceptions.raise_compiler_error("dbt_plotsim.within_lifetime on " ~ model ~ ": give first_column, ended_column or both") %}
{% endif %}
select
    f.{{ entity }},
    f.{{ period }}{% if first_column %},
    e.{{ first_column }} as first_at{% endif %}{% if ended_column %},
    e.{{ ended_column }} as ended_at{% endif %}
from {{ model }} as f
join {{ entity_model }} as e
  on f.{{ entity }} = e.{{ entity }}
where false
{% if first_column %}
   or f.{{ period }} < e.{{ first_column }}
{% endif %}
{% if ended_column %}
   or (e.{{ ended_column }} is not null and f.{{ period }} > e.{{ ended_column }})
{% endif %}
{% endmacro %}
