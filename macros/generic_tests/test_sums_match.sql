{#
  Child rows add up to their parent: for every parent row of `to`, the sum of the tested column over the
  rows of the model with the same `key` equals the parent's `field`, within `tolerance` (0 by default:
  exact, as for decimal amounts such as transaction lines and their transaction). A parent without any
  child row fails too (its sum is taken as 0), and so do child rows whose parent is missing.

    - name: fct_order_line
      columns:
        - name: amount
          data_tests:
            - dbt_plotsim.sums_match:
                arguments:
                  key: order_id                   # in both models
                  to: source('shop', 'fct_order')
                  field: amount                   # the parent's column; default: the tested column's name
                  tolerance: 0                    # default; e.g. 0.005 for float columns

  Failing rows: one per parent with a mismatch: key, parent_total, children_total, n_children.
#}
{% test sums_match(model, column_name, key, to, field=none, tolerance=0) %}
  {{ return(adapter.dispatch('sums_match', 'dbt_plotsim')(model, column_name, key, to, field, tolerance)) }}
{% endtest %}

{% macro default__sums_match(model, column_name, key, to, field, tolerance) %}
with children as (
    select {{ key }} as parent_key, sum({{ column_name }}) as children_total, count(*) as n_children
    from {{ model }}
    group by {{ key }}
),

parents as (
    select {{ key }} as parent_key, {{ field if field is not none else column_name }} as parent_total
    from {{ to }}
)

select
    coalesce(parents.parent_key, children.parent_key) as {{ key }},
    parents.parent_total,
    children.children_total,
    coalesce(children.n_children, 0) as n_children
from parents
full outer join children
  on parents.parent_key = children.parent_key
where parents.parent_key is null
   or parents.parent_total is null
   or abs(parents.parent_total - coalesce(children.children_total, 0)) > {{ tolerance }}
{% endmacro %}
