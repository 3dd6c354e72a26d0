{#
  The tested column adds up to `total` within each group: a bridge table's allocation factors add up to 1
  per entity, so a measure spread over the members is neither lost nor double counted.

    - name: bridge_account_feature
      columns:
        - name: allocation
          data_tests:
            - dbt_plotsim.sums_to:
                arguments:
                  group_by: account_id
                  total: 1                        # default
                  tolerance: 0.000000001          # default; floats rarely add up exactly

  Failing rows: one per group whose sum is off: group key, column_total, n_rows.
#}
{% test sums_to(model, column_name, group_by, total=1, tolerance=0.000000001) %}
  {{ return(adapter.dispatch('sums_to', 'dbt_plotsim')(model, column_name, group_by, total, tolerance)) }}
{% endtest %}

{% macro default__sums_to(model, column_name, group_by, total, tolerance) %}
select
    {{ group_by }},
    sum({{ column_name }}) as column_total,
    count(*) as n_rows
from {{ model }}
group by {{ group_by }}
having sum({{ column_name }}) is null
    or abs(sum({{ column_name }}) - {{ total }}) > {{ tolerance }}
{% endmacro %}
