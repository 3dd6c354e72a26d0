{#
  The pooled Pearson r of two columns (over rows where both are non-null) is within `tolerance` of the
  declared r. Without `r`, the declared r is read from <model's database>.<model's schema>._plotsim_relations
  (written by generate_synthetic), or, when the model's schema has none, from other_model's schema; on a
  model compared with itself outside the source's schema, pass `r`.

    sources:
      - name: saas
        tables:
          - name: fct_account_monthly
            columns:
              - name: mrr
                data_tests:
                  - dbt_plotsim.correlation_within:
                      arguments: {other_column: engagement}                     # r from _plotsim_relations
                  - dbt_plotsim.correlation_within:
                      arguments: {other_column: seats, r: 0.8, tolerance: 0.05}
          - name: fct_support_monthly
            columns:
              - name: support_tickets
                data_tests:
                  - dbt_plotsim.correlation_within:
                      arguments:
                        other_column: engagement
                        other_model: source('saas', 'fct_account_monthly')      # joined on join_on
                        join_on: [account_id, date_key]

  Failing row (at most one): measured_r, declared_r, tolerance, pairs, declared_from, problem.
#}
{% test correlation_within(model, column_name, other_column, other_model=none, join_on=none, r=none, tolerance=0.05) %}
  {{ return(adapter.dispatch('correlation_within', 'dbt_plotsim')(model, column_name, other_column, other_model, join_on, r, tolerance)) }}
{% endtest %}

{% macro default__correlation_within(model, column_name, other_column, other_model, join_on, r, tolerance) %}
{% set keys = [join_on] if join_on is string else (join_on or []) %}
{% if other_model is not none and keys | length == 0 %}
  {% do exceptions.raise_compiler_error("dbt_plotsim.correlation_within on column '" ~ column_name
        ~ "': other_model is given, so join_on must list the key columns to join on, e.g. [company_id, date_key]") %}
{% endif %}

{# The declared r: the argument, or the generator's record of the spec. #}
{% set declared = {"r": r, "from": "argument r", "problem": none} %}
{% if r is none and execute %}
  {% set found = dbt_plotsim._plotsim_declared_relations([model, other_model], 'correlation') %}
  {% set pair = [column_name | lower, other_column | lower] | sort %}
  {% set values = [] %}
  {% for row in found.rows or [] if [row.metric, row.other] | sort == pair and row.value not in values %}
    {% do values.append(row.value) %}
  {% endfor %}
  {% do declared.update({"from": found.where}) %}
  {% if found.rows is none %}
    {% do declared.update({"problem": "no declared r: " ~ found.where ~ "; pass r"}) %}
  {% elif values | length == 0 %}
    {% do declared.update({"problem": "no declared r: " ~ found.where ~ " has no correlation between "
                                      ~ column_name ~ " and " ~ other_column ~ "; pass r"}) %}
  {% elif values | length > 1 %}
    {% do declared.update({"problem": "ambiguous declared r: " ~ found.where ~ " declares " ~ values | join(", ")
                                      ~ " between " ~ column_name ~ " and " ~ other_column ~ "; pass r"}) %}
  {% else %}
    {% do declared.update({"r": values[0]}) %}
  {% endif %}
{% endif %}

with
{% if other_model is none %}
pairs as (
    select {{ column_name }} as x, {{ other_column }} as y
    from {{ model }}
),
{% else %}
left_side as (
    select * from {{ model }}
),

right_side as (
    select * from {{ other_model }}
),

pairs as (
    select left_side.{{ column_name }} as x, right_side.{{ other_column }} as y
    from left_side
    inner join right_side
        on {% for key in keys %}left_side.{{ key }} = right_side.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
),
{% endif %}

measured as (
    select corr(x, y) as measured_r, count(*) as pairs
    from pairs
    where x is not null and y is not null
),

verdict as (
    select
        measured_r,
        {{ declared.r if declared.r is not none else "cast(null as " ~ dbt.type_float() ~ ")" }} as declared_r,
        {{ tolerance }} as tolerance,
        pairs,
        {{ dbt.string_literal(declared.from | replace("'", "''")) }} as declared_from,
        case
            {% if declared.problem %}
            when 1 = 1 then {{ dbt.string_literal(declared.problem | replace("'", "''")) }}
            {% endif %}
            when measured_r is null then 'no measurable r: fewer than two non-null pairs, or a constant column'
            when abs(measured_r - {{ declared.r if declared.r is not none else 0 }}) > {{ tolerance }}
                then 'measured r differs from the declared r by more than the tolerance'
        end as problem
    from measured
)

select * from verdict
where problem is not null
{% endmacro %}
