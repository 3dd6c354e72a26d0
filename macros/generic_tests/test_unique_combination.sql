{#
  The columns together identify a row: no combination appears twice and none has a null part. The
  composite primary key of a bridge table (one row per entity and member) or of any table keyed by
  several columns (an account-month grain).

    - name: bridge_account_feature
      data_tests:
        - dbt_plotsim.unique_combination:
            arguments:
              columns: [account_id, feature_id]

  Failing rows: one per repeated or incomplete combination: its columns and n_rows.
#}
{% test unique_combination(model, columns) %}
  {{ return(adapter.dispatch('unique_combination', 'dbt_plotsim')(model, columns)) }}
{% endtest %}

{% macro default__unique_combination(model, columns) %}
{% if columns is string or columns | length == 0 %}
  {% do exceptions.raise_compiler_error("dbt_plotsim.unique_combination on " ~ model ~ ": give `columns` as a list of column names") %}
{% endif %}
select
    {{ columns | join(', ') }},
    count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
  {%- for column in columns %} or {{ column }} is null{% endfor %}
{% endmacro %}
