{#
  A slowly changing dimension (type 2) is well formed: per entity, the validity ranges follow each other
  without overlap or gap, every range ends after it starts, and only the latest range may be open
  (valid_to null). With `is_current`, at most one row per entity is current: the latest, open one; an entity
  whose latest range is closed has ended (or was deleted, as a dbt snapshot with hard_deletes records it).
  Ranges are half-open by default, [valid_from, valid_to): the next version starts on the valid_to of
  the previous one (as dbt snapshots write them). `inclusive_end: true` expects it the day after instead.

    sources:
      - name: saas
        tables:
          - name: dim_company_plan_history
            data_tests:
              - dbt_plotsim.scd2_no_overlap:
                  arguments:
                    entity: company_id
                    valid_from: valid_from      # default
                    valid_to: valid_to          # default
                    is_current: is_current      # optional
                    inclusive_end: false        # default

  Failing rows: one per offending version, with the first problem found: entity_id, valid_from, valid_to,
  next_valid_from, problem.
#}
{% test scd2_no_overlap(model, entity=none, valid_from='valid_from', valid_to='valid_to', is_current=none,
                        inclusive_end=false, column_name=none) %}
  {{ return(adapter.dispatch('scd2_no_overlap', 'dbt_plotsim')(model, entity or column_name, valid_from, valid_to,
                                                               is_current, inclusive_end)) }}
{% endtest %}

{% macro default__scd2_no_overlap(model, entity, valid_from, valid_to, is_current, inclusive_end) %}
{% if not entity %}
  {% do exceptions.raise_compiler_error("dbt_plotsim.scd2_no_overlap on " ~ model
        ~ ": give `entity`, the column that identifies the entity (or declare the test on that column)") %}
{% endif %}
{%- set expected_next = dbt.dateadd('day', 1, 'valid_to') if inclusive_end else 'valid_to' %}
with versions as (
    select
        {{ entity }} as entity_id,
        {{ valid_from }} as valid_from,
        {{ valid_to }} as valid_to,
        {% if is_current %}coalesce({{ is_current }}, false){% else %}false{% endif %} as is_current,
        lead({{ valid_from }}) over (
            partition by {{ entity }} order by {{ valid_from }}, {{ valid_to }}) as next_valid_from,
        row_number() over (
            partition by {{ entity }} order by {{ valid_from }} desc, {{ valid_to }} desc) as from_latest
    from {{ model }}
),

checked as (
    select
        versions.*,
        case
            when valid_from is null then 'valid_from is null'
            when valid_to is not null and valid_to {{ '<' if inclusive_end else '<=' }} valid_from
                then 'range ends before it starts'
            when valid_to is null and next_valid_from is not null then 'open range (valid_to null) before a later version'
            when next_valid_from is not null and next_valid_from < {{ expected_next }} then 'overlaps the next version'
            when next_valid_from is not null and next_valid_from > {{ expected_next }} then 'gap before the next version'
            {% if is_current %}
            when is_current and from_latest > 1 then 'current row is not the latest version'
            when not is_current and valid_to is null then 'open range (valid_to null) is not current'
            when is_current and valid_to is not null then 'current row has a valid_to'
            {% endif %}
        end as problem
    from versions
)

select entity_id, valid_from, valid_to, next_valid_from, problem
from checked
where problem is not null
{% endmacro %}
