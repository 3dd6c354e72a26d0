{#
  The column holds period starts that form a complete spine: each start once, and every next start one
  grain after the previous one (no gaps, no duplicates, no nulls).

    sources:
      - name: saas
        tables:
          - name: dim_date
            columns:
              - name: period_start
                data_tests:
                  - dbt_plotsim.date_spine:
                      arguments: {grain: month}     # day | week | month

  Failing rows: one per problem, with `period_start` and a readable `problem`.
#}
{% test date_spine(model, column_name, grain) %}
  {{ return(adapter.dispatch('date_spine', 'dbt_plotsim')(model, column_name, grain)) }}
{% endtest %}

{% macro default__date_spine(model, column_name, grain) %}
{% if grain not in ['day', 'week', 'month'] %}
  {% do exceptions.raise_compiler_error("dbt_plotsim.date_spine on column '" ~ column_name ~ "': grain '"
        ~ grain ~ "' is not supported; allowed: day, week, month") %}
{% endif %}
{% set text = dbt.type_string() %}
with starts as (
    select cast({{ column_name }} as date) as period_start, count(*) as n_rows
    from {{ model }}
    group by cast({{ column_name }} as date)
),

spine as (
    select
        period_start,
        lead(period_start) over (order by period_start) as next_start,
        cast({{ dbt.dateadd(grain, 1, 'period_start') }} as date) as expected_next
    from starts
    where period_start is not null
),

problems as (
    select period_start, {{ dbt.concat(["'null period start in '", "cast(n_rows as " ~ text ~ ")", "' rows'"]) }} as problem
    from starts
    where period_start is null

    union all

    select period_start, {{ dbt.concat(["'duplicate: '", "cast(n_rows as " ~ text ~ ")",
                                        "' rows start on '", "cast(period_start as " ~ text ~ ")"]) }} as problem
    from starts
    where period_start is not null and n_rows > 1

    union all

    select period_start, {{ dbt.concat(["'gap after '", "cast(period_start as " ~ text ~ ")",
                                        "': next start is '", "cast(next_start as " ~ text ~ ")",
                                        "', expected '", "cast(expected_next as " ~ text ~ ")",
                                        "' (one " ~ grain ~ " later)'"]) }} as problem
    from spine
    where next_start is not null and next_start <> expected_next
)

select * from problems
{% endmacro %}
