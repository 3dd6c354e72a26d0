{#
  A mart's column equals the known answer in the synthetic source's truth table (_plotsim_truth), per
  period and, with `segment_column`, per segment. The mart's rows are summed per period (and segment)
  first, so a mart at a finer grain (per plan, per account) is compared with the truth's grain.

    - name: mrr_movements
      columns:
        - name: new_customers
          data_tests:
            - dbt_plotsim.matches_truth:
                arguments:
                  truth: source('saas', '_plotsim_truth')
                  table: dim_account              # the truth's table_name
                  measure: arriving_entities      # rows | sum | mean | non_null | active_entities | ...
                  truth_column: mrr               # the truth's column_name (sum, mean, non_null, entities)
                  category: active                # a stage, with measure entities
                  period_column: month_start      # a date, or a yyyymmdd date key (default date_key);
                                                  # null: totals over the window
                  segment_column: segment         # optional: compare each segment, else the overall rows
                  where: "months_since_arrival = 0"   # optional filter on the mart's rows
                  tolerance: 0.01                 # absolute; default 0.01
                  relative_tolerance: 0           # optional, of the truth's value; the larger bound applies

  A period or segment present on one side only fails unless its value is within the tolerance of 0.
  `period_column: null` compares the window's total: additive measures only (not mean or active_entities).
  Failing rows: date_key, segment, truth_value, model_value, difference.
#}
{% test matches_truth(model, column_name, truth, table, measure='sum', truth_column=none, category=none,
                      period_column='date_key', segment_column=none, where=none, tolerance=0.01,
                      relative_tolerance=0) %}
  {{ return(adapter.dispatch('matches_truth', 'dbt_plotsim')(model, column_name, truth, table, measure,
            truth_column, category, period_column, segment_column, where, tolerance, relative_tolerance)) }}
{% endtest %}

{% macro _plotsim_date_key(model, period_column) %}
  {#- the period as a yyyymmdd integer: dates are formatted, keys kept as they are -#}
  {%- set kind = {"value": "date"} -%}
  {%- if execute and model is not string and model.schema is defined -%}
    {%- for column in adapter.get_columns_in_relation(model) if column.name | lower == period_column | lower -%}
      {%- if 'date' not in column.data_type | lower and 'timestamp' not in column.data_type | lower -%}
        {%- do kind.update({"value": "key"}) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {%- if kind.value == 'key' -%}
    cast({{ period_column }} as integer)
  {%- else -%}
    cast(strftime(cast({{ period_column }} as date), '%Y%m%d') as integer)
  {%- endif -%}
{% endmacro %}

{% macro default__matches_truth(model, column_name, truth, table, measure, truth_column, category,
                                period_column, segment_column, where, tolerance, relative_tolerance) %}
{% set by_period = period_column is not none %}
{% if not by_period and measure in ('mean', 'active_entities') %}
  {% do exceptions.raise_compiler_error("dbt_plotsim.matches_truth on " ~ model ~ "." ~ column_name
      ~ ": measure " ~ measure ~ " does not add up over periods; give period_column") %}
{% endif %}
with truth_rows as (
    select date_key, segment, value
    from {{ truth }}
    where table_name = '{{ table }}'
      and measure = '{{ measure }}'
      and column_name {{ "= '" ~ truth_column ~ "'" if truth_column is not none else "is null" }}
      and category {{ "= '" ~ category ~ "'" if category is not none else "is null" }}
      and segment is {{ "not null" if segment_column is not none else "null" }}
),

truth as (
    select {{ "date_key" if by_period else "cast(null as integer) as date_key" }}, segment, sum(value) as truth_value
    from truth_rows
    group by 1, 2
),

model_values as (
    select
        {{ dbt_plotsim._plotsim_date_key(model, period_column) if by_period else "cast(null as integer)" }} as date_key,
        {{ "cast(" ~ segment_column ~ " as varchar)" if segment_column is not none else "cast(null as varchar)" }} as segment,
        sum({{ column_name }}) as model_value
    from {{ model }}
    {% if where is not none %}where {{ where }}{% endif %}
    group by 1, 2
),

compared as (
    select
        coalesce(truth.date_key, model_values.date_key) as date_key,
        coalesce(truth.segment, model_values.segment) as segment,
        truth.truth_value,
        model_values.model_value,
        coalesce(model_values.model_value, 0) - coalesce(truth.truth_value, 0) as difference
    from truth
    full outer join model_values
        on truth.date_key is not distinct from model_values.date_key
        and truth.segment is not distinct from model_values.segment
)

select *
from compared
where abs(difference) > greatest({{ tolerance }}, {{ relative_tolerance }} * abs(coalesce(truth_value, 0)))
{% endmacro %}
