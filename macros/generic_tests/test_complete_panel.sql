{#
  One row per entity (the tested column) and period, with every period present: the dense panel a
  synthetic fact table promises and that lag_coherence relies on (a gap in a series would shift its lags).
  The expected periods are the distinct `period` values of `periods_from` (e.g. the date dimension), or of
  the model itself when it is not given.

    sources:
      - name: saas
        tables:
          - name: fct_mrr
            columns:
              - name: company_id
                data_tests:
                  - dbt_plotsim.complete_panel:
                      arguments:
                        period: date_key
                        periods_from: source('saas', 'dim_date')

  Failing rows: one per entity with a problem: entity_id, n_rows, n_periods, expected_periods, problem.
#}
{% test complete_panel(model, column_name, period='date_key', periods_from=none) %}
  {{ return(adapter.dispatch('complete_panel', 'dbt_plotsim')(model, column_name, period, periods_from)) }}
{% endtest %}

{% macro default__complete_panel(model, column_name, period, periods_from) %}
with panel as (
    select {{ column_name }} as entity_id, {{ period }} as period_key
    from {{ model }}
),

expected as (
    select distinct {{ period }} as period_key
    from {{ periods_from if periods_from is not none else model }}
),

expected_count as (
    select count(*) as expected_periods from expected
),

per_entity as (
    select
        panel.entity_id,
        count(*) as n_rows,
        count(distinct panel.period_key) as n_periods,
        sum(case when expected.period_key is null then 1 else 0 end) as unexpected_rows
    from panel
    left join expected on panel.period_key = expected.period_key
    group by panel.entity_id
),

verdict as (
    select
        per_entity.entity_id,
        per_entity.n_rows,
        per_entity.n_periods,
        expected_count.expected_periods,
        case
            when per_entity.entity_id is null then 'rows with a null entity'
            when per_entity.unexpected_rows > 0 then 'periods that are not among the expected periods (or null)'
            when per_entity.n_rows > per_entity.n_periods then 'more than one row for some periods'
            when per_entity.n_periods < expected_count.expected_periods then 'missing periods'
        end as problem
    from per_entity
    cross join expected_count
)

select * from verdict
where problem is not null
{% endmacro %}
