{#
  A staging model cleaned every defect the answer key lists for its raw table: no duplicate, near duplicate or
  spiked copy is left (one row per key, and per period when the model has `period_column`), and every changed cell holds
  its clean value again (`fixed`), or its row is gone (`removed`), or the cell is null (`nulled`), as `allow`
  says; a defect still in the model as the raw table shows it (an orphan key kept, a wrong value on a row
  that was not removed, a renamed column's value not taken back) fails whatever `allow` says. Rows a
  volume_drop took out and columns a schema_drift added are not checked: there is nothing to clean. Rows are matched on `key` (the model's column holding the raw table's first column; default: the
  model's first column) and `period_column` (default: date_key, when the model has it).

    - name: stg_shop__orders
      data_tests:
        - dbt_plotsim.cleans_defects:
            arguments:
              defects: source('shop', '_plotsim_defects')
              table: fct_orders                 # the raw table the model cleans
              allow: [fixed, removed]           # default

  Failing rows: one per defect left: kind, key_value, date_key, column_name, original_value, defect_value and
  problem (still duplicated, still wrong, removed, nulled).
#}
{% test cleans_defects(model, defects, table, key=none, period_column=none, allow=['fixed', 'removed']) %}
  {{ return(adapter.dispatch('cleans_defects', 'dbt_plotsim')(model, defects, table, key, period_column, allow)) }}
{% endtest %}

{% macro default__cleans_defects(model, defects, table, key, period_column, allow) %}
{% set columns = adapter.get_columns_in_relation(model) if execute else [] %}
{% set names = columns | map(attribute='name') | list %}
{% set key = key or (names[0] if names else 'id') %}
{% if period_column is none and 'date_key' in names %}{% set period_column = 'date_key' %}{% endif %}
{% set unknown = allow | reject('in', ['fixed', 'removed', 'nulled']) | list %}
{% if unknown %}
  {% do exceptions.raise_compiler_error("dbt_plotsim.cleans_defects on " ~ model ~ ": allow takes fixed, removed and nulled, not " ~ unknown | join(', ')) %}
{% endif %}
with answer as (
    select *,
        case when kind = 'orphan' and column_name = key_column then cast(original_value as bigint)
             else key_value end as clean_key,
        -- a cell hit twice (text, then moved) is clean at its first defect's original value
        first_value(original_value) over (
            partition by table_name, key_value, date_key, column_name order by defect_number) as clean_value
    from {{ defects }}
    where table_name = '{{ table }}'
      and kind <> 'volume_drop'  -- a row that never arrived: a volume test's business, nothing to clean
      and not (kind = 'schema_drift' and original_value is null)  -- a column the source added
),

cleaned as (
    select *, count(*) over (partition by {{ key }}{% if period_column %}, {{ period_column }}{% endif %}) as _n_rows
    from {{ model }}
),

checked as (
    select
        answer.kind, answer.key_value, answer.date_key, answer.column_name, answer.original_value,
        answer.defect_value,
        cleaned._n_rows,
        cleaned.{{ key }} is not null as present,
        case answer.column_name
        {%- for column in columns %}
            when '{{ column.name }}' then cleaned.{{ adapter.quote(column.name) }} is null
        {%- endfor %}
            else false end as is_null,
        case answer.column_name
        {%- for column in columns %}
            when '{{ column.name }}' then cleaned.{{ adapter.quote(column.name) }}
                is not distinct from try_cast(answer.clean_value as {{ column.data_type }})
        {%- endfor %}
            else false end as is_fixed,
        exists (  -- the defect as the raw table shows it (an orphan key included), still in the model
            select 1 from cleaned as still
            where still.{{ key }} = answer.key_value
              {% if period_column %}and still.{{ period_column }} = answer.date_key{% endif %}
              and case answer.column_name
              {%- for column in columns %}
                  when '{{ column.name }}' then case
                      -- a moved value not taken back: the cell null where the value moved reads as one
                      when answer.defect_value is null then still.{{ adapter.quote(column.name) }} is null
                          and try_cast(answer.original_value as {{ column.data_type }}) is not null
                      else still.{{ adapter.quote(column.name) }}
                          = try_cast(answer.defect_value as {{ column.data_type }})
                        -- a defect the model's type cannot tell from the clean value (' 12.5 ' as a number) is gone
                        and try_cast(answer.defect_value as {{ column.data_type }})
                            is distinct from try_cast(answer.clean_value as {{ column.data_type }}) end
              {%- endfor %}
                  else false end
        ) as left_in
    from answer
    left join cleaned
      on cleaned.{{ key }} = answer.clean_key
     {% if period_column %}and cleaned.{{ period_column }} = answer.date_key{% endif %}
)

select distinct
    kind, key_value, date_key, column_name, original_value, defect_value,
    case
        when kind in ('duplicate', 'near_duplicate', 'volume_spike') then 'still duplicated'
        when left_in then 'still wrong'
        when not present then 'removed'
        when is_null and not is_fixed then 'nulled'
        else 'still wrong'
    end as problem
from checked
where case
    when kind in ('duplicate', 'near_duplicate', 'volume_spike') then coalesce(_n_rows, 0) > 1
    when left_in then true
    when not present then {{ 'false' if 'removed' in allow else 'true' }}
    when is_fixed then false
    when is_null then {{ 'false' if 'nulled' in allow else 'true' }}
    else true
end
{% endmacro %}
