{#
  Per entity, in period order, the column (a stage) changes only along declared transitions; with
  `initial`, every entity's first row is in that stage. Staying in a stage is always allowed.

    sources:
      - name: saas
        tables:
          - name: fct_company_stage
            columns:
              - name: stage
                data_tests:
                  - dbt_plotsim.allowed_transitions:
                      arguments:
                        entity: company_id
                        period: date_key                  # default
                        transitions: [[trial, active], [active, at_risk], [at_risk, active], [at_risk, churned]]
                        initial: trial                    # optional

  Each transition is a pair [from, to] (or a mapping {from: ..., to: ...}).
  Failing rows: entity_id, period_key, previous_stage, stage, problem.
#}
{% test allowed_transitions(model, column_name, entity, transitions, period='date_key', initial=none) %}
  {{ return(adapter.dispatch('allowed_transitions', 'dbt_plotsim')(model, column_name, entity, transitions, period,
                                                                    initial)) }}
{% endtest %}

{% macro default__allowed_transitions(model, column_name, entity, transitions, period, initial) %}
{% set pairs = [] %}
{% for item in (transitions or []) %}
  {% if item is mapping and 'from' in item and 'to' in item %}
    {% do pairs.append([item['from'], item['to']]) %}
  {% elif item is not string and item is iterable and item | length == 2 %}
    {% do pairs.append([item[0], item[1]]) %}
  {% else %}
    {% do exceptions.raise_compiler_error("dbt_plotsim.allowed_transitions on " ~ model ~ "." ~ column_name
          ~ ": transition " ~ item ~ " must be a pair [from, to] or a mapping {from: ..., to: ...}") %}
  {% endif %}
{% endfor %}
{% set quoted = [] %}
{% for pair in pairs %}
  {% do quoted.append(["'" ~ (pair[0] | string | replace("'", "''")) ~ "'", "'" ~ (pair[1] | string | replace("'", "''")) ~ "'"]) %}
{% endfor %}
{% if not pairs %}
  {% do exceptions.raise_compiler_error("dbt_plotsim.allowed_transitions on " ~ model ~ "." ~ column_name
        ~ ": give `transitions`, a list of [from, to] pairs") %}
{% endif %}
with ordered as (
    select
        {{ entity }} as entity_id,
        {{ period }} as period_key,
        {{ column_name }} as stage,
        lag({{ column_name }}) over (partition by {{ entity }} order by {{ period }}) as previous_stage,
        row_number() over (partition by {{ entity }} order by {{ period }}) as row_in_entity
    from {{ model }}
),

allowed as (
    {% for pair in quoted %}
    select {{ pair[0] }} as from_stage, {{ pair[1] }} as to_stage
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

problems as (
    select ordered.entity_id, ordered.period_key, ordered.previous_stage, ordered.stage,
           'transition not declared' as problem
    from ordered
    left join allowed
      on ordered.previous_stage = allowed.from_stage and ordered.stage = allowed.to_stage
    where ordered.row_in_entity > 1
      and ordered.stage <> ordered.previous_stage
      and allowed.from_stage is null
    {% if initial %}

    union all

    select entity_id, period_key, previous_stage, stage,
           'first stage is not {{ initial | string | replace("'", "''") }}' as problem
    from ordered
    where row_in_entity = 1 and (stage is null or stage <> '{{ initial | string | replace("'", "''") }}')
    {% endif %}
)

select * from problems
{% endmacro %}
