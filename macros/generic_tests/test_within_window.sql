{#
  Every value of the column (a date or timestamp) lies inside the synthetic window [start, end]:
  events never happen before the window opens or after it closes.

    - name: occurred_at
      data_tests:
        - dbt_plotsim.within_window:
            arguments: {start: "2024-01-01", end: "2025-12-31"}

  Failing rows: each value outside the window (nulls are left to not_null).
#}
{% test within_window(model, column_name, start, end) %}
  {{ return(adapter.dispatch('within_window', 'dbt_plotsim')(model, column_name, start, end)) }}
{% endtest %}

{% macro default__within_window(model, column_name, start, end) %}
select {{ column_name }} as outside_value
from {{ model }}
where {{ column_name }} < cast('{{ start }}' as date)
   or {{ column_name }} >= cast({{ dbt.dateadd('day', 1, "cast('" ~ end ~ "' as date)") }} as date)
{% endmacro %}
