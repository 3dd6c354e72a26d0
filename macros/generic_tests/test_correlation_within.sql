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

  Within segments: `scope: each_segment` checks the r inside every segment, `scope: <segment name>` inside
  that one; the segment comes from `segment_model` (the entity dimension, joined on `segment_key`, column
  `segment_column`, default `segment`). The declared r is then the one recorded for that scope.

                  - dbt_plotsim.correlation_within:
                      arguments:
                        other_column: engagement
                        scope: each_segment
                        segment_model: source('saas', 'dim_account')
                        segment_key: account_id

  Failing rows (one per failing segment, or one): segment, measured_r, declared_r, tolerance, pairs,
  declared_from, problem.
#}
{% test correlation_within(model, column_name, other_column, other_model=none, join_on=none, r=none, tolerance=0.05, scope='pooled', segment_model=none, segment_key=none, segment_column='segment') %}
  {{ return(adapter.dispatch('correlation_within', 'dbt_plotsim')(model, column_name, other_column, other_model, join_on, r, tolerance, scope, segment_model, segment_key, segment_column)) }}
{% endtest %}

{% macro default__correlation_within(model, column_name, other_column, other_model, join_on, r, tolerance, scope='pooled', segment_model=none, segment_key=none, segment_column='segment') %}
{% set keys = [join_on] if join_on is string else (join_on or []) %}
{% if scope != 'pooled' and (segment_model is none or segment_key is none) %}
  {% do exceptions.raise_compiler_error("dbt_plotsim.correlation_within on column '" ~ column_name
        ~ "': scope '" ~ scope ~ "' needs segment_model (the entity dimension) and segment_key (its key)") %}
{% endif %}
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
  {% for row in found.rows or [] if [row.metric, row.other] | sort == pair and row.scope == scope and row.value not in values %}
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
    select {{ column_name }} as x, {{ other_column }} as y{% if scope != 'pooled' %}, {{ segment_key }} as segment_entity{% endif %}
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
    select left_side.{{ column_name }} as x, right_side.{{ other_column }} as y{% if scope != 'pooled' %}, left_side.{{ segment_key }} as segment_entity{% endif %}
    from left_side
    inner join right_side
        on {% for key in keys %}left_side.{{ key }} = right_side.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
),
{% endif %}

{% if scope != 'pooled' %}
segments as (
    select {{ segment_key }} as segment_entity, {{ segment_column }} as segment
    from {{ segment_model }}
),

measured as (
    select segments.segment, corr(x, y) as measured_r, count(*) as pairs
    from pairs
    inner join segments on pairs.segment_entity = segments.segment_entity
    where x is not null and y is not null
    {% if scope != 'each_segment' %}and segments.segment = {{ dbt.string_literal(scope) }}{% endif %}
    group by segments.segment
),
{% else %}
measured as (
    select cast(null as {{ dbt.type_string() }}) as segment, corr(x, y) as measured_r, count(*) as pairs
    from pairs
    where x is not null and y is not null
),
{% endif %}

verdict as (
    select
        segment,
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
