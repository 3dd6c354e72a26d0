{#
  The follower (the tested column) trails the driver by the declared lag: within each entity, ordered by
  `period`, the pooled correlation of the follower's period-to-period change at t with the driver's change
  at t - k, for k = 0 .. max_lag, is highest at k = lag and at least min_strength there, in absolute value
  (a follower of opposite polarity, such as tickets after engagement, moves against its driver).
  Each period's mean change across entities is removed first (a time fixed effect), so a move every entity
  shares (seasonality, a market-wide dip) does not hide the lag; `remove_period_mean: false` keeps it.
  A declared lag beyond max_lag raises max_lag to lag + 1.
  Without `lag`, it is read from <model's database>.<model's schema>._plotsim_relations (kind 'lag'), or,
  when the model's schema has none, from driver_model's schema. A chain (seats follows mrr by 1, mrr follows
  engagement by 3) gives the sum: seats trails engagement by 4.
  Series are expected dense (one row per entity and period: see complete_panel).

    sources:
      - name: saas
        tables:
          - name: fct_account_monthly
            columns:
              - name: mrr
                data_tests:
                  - dbt_plotsim.lag_coherence:
                      arguments: {driver_column: engagement, entity: account_id}   # lag from _plotsim_relations
          - name: fct_mrr
            columns:
              - name: mrr
                data_tests:
                  - dbt_plotsim.lag_coherence:
                      arguments:
                        driver_column: engagement
                        driver_model: source('saas', 'fct_engagement')   # joined on entity and period
                        entity: company_id
                        period: date_key
                        lag: 3
                        max_lag: 12
                        min_strength: 0.1
                        remove_period_mean: true

  Failing row (at most one): declared_lag, declared_lag_r, best_lag, best_lag_r, min_strength,
  declared_from, problem.
#}
{% test lag_coherence(model, column_name, driver_column, entity, driver_model=none, period='date_key', lag=none, max_lag=12, min_strength=0.1, remove_period_mean=true) %}
  {{ return(adapter.dispatch('lag_coherence', 'dbt_plotsim')(model, column_name, driver_column, entity, driver_model, period, lag, max_lag, min_strength, remove_period_mean)) }}
{% endtest %}

{% macro default__lag_coherence(model, column_name, driver_column, entity, driver_model, period, lag, max_lag, min_strength, remove_period_mean=true) %}

{# The declared lag: the argument, or the sum along the chain of recorded lags from the follower to the driver. #}
{% set declared = {"lag": lag, "from": "argument lag", "problem": none} %}
{% if lag is none and execute %}
  {% set found = dbt_plotsim._plotsim_declared_relations([model, driver_model], 'lag') %}
  {% do declared.update({"from": found.where}) %}
  {% if found.rows is none %}
    {% do declared.update({"problem": "no declared lag: " ~ found.where ~ "; pass lag"}) %}
  {% else %}
    {% set follows = {} %}
    {% for row in found.rows %}{% do follows.update({row.metric: row}) %}{% endfor %}
    {% set walk = {"at": column_name | lower, "total": 0, "steps": []} %}
    {% for _ in range(follows | length) %}
      {% if walk.at != driver_column | lower and walk.at in follows %}
        {% set step = follows[walk.at] %}
        {% do walk.steps.append(step.metric ~ " follows " ~ step.other ~ " by " ~ step.value | int) %}
        {% do walk.update({"at": step.other, "total": walk.total + step.value | int}) %}
      {% endif %}
    {% endfor %}
    {% if walk.at == driver_column | lower and walk.steps %}
      {% do declared.update({"lag": walk.total, "from": found.where ~ ": " ~ walk.steps | join(", ")}) %}
    {% else %}
      {% do declared.update({"problem": "no declared lag: " ~ found.where ~ " has no lag chain from "
                                        ~ column_name ~ " back to " ~ driver_column ~ "; pass lag"}) %}
    {% endif %}
  {% endif %}
{% endif %}

{# a chain longer than max_lag widens the search instead of failing #}
{% if declared.lag is not none and declared.lag >= 0 and declared.lag > max_lag %}
  {% set max_lag = declared.lag + 1 %}
{% endif %}

with
{% if driver_model is none %}
series as (
    select {{ entity }} as entity_id, {{ period }} as period_key,
           {{ column_name }} as follower_value, {{ driver_column }} as driver_value
    from {{ model }}
),
{% else %}
follower as (
    select {{ entity }} as entity_id, {{ period }} as period_key, {{ column_name }} as follower_value
    from {{ model }}
),

driver as (
    select {{ entity }} as entity_id, {{ period }} as period_key, {{ driver_column }} as driver_value
    from {{ driver_model }}
),

series as (
    select
        coalesce(follower.entity_id, driver.entity_id) as entity_id,
        coalesce(follower.period_key, driver.period_key) as period_key,
        follower.follower_value,
        driver.driver_value
    from follower
    full outer join driver
        on follower.entity_id = driver.entity_id and follower.period_key = driver.period_key
),
{% endif %}

indexed as (
    select *, row_number() over (partition by entity_id order by period_key) as period_number
    from series
),

raw_changes as (
    select
        entity_id,
        period_key,
        period_number,
        follower_value - lag(follower_value) over (partition by entity_id order by period_number) as follower_change,
        driver_value - lag(driver_value) over (partition by entity_id order by period_number) as driver_change
    from indexed
),

changes as (
    select
        entity_id,
        period_number,
        {% if remove_period_mean %}
        follower_change - avg(follower_change) over (partition by period_key) as follower_change,
        driver_change - avg(driver_change) over (partition by period_key) as driver_change
        {% else %}
        follower_change,
        driver_change
        {% endif %}
    from raw_changes
),

profile as (
    {% for k in range(0, max_lag + 1) %}
    select {{ k }} as lag_periods, abs(corr(follower.follower_change, driver.driver_change)) as r
    from changes as follower
    inner join changes as driver
        on follower.entity_id = driver.entity_id and follower.period_number = driver.period_number + {{ k }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

ranked as (
    select
        lag_periods,
        r,
        row_number() over (order by case when r is null then 1 else 0 end, r desc, lag_periods) as rank_r
    from profile
),

summary as (
    select
        max(case when lag_periods = {{ declared.lag if declared.lag is not none else -1 }} then r end) as declared_lag_r,
        min(case when rank_r = 1 and r is not null then lag_periods end) as best_lag,
        max(r) as best_lag_r
    from ranked
),

verdict as (
    select
        {{ declared.lag if declared.lag is not none else "cast(null as " ~ dbt.type_int() ~ ")" }} as declared_lag,
        declared_lag_r,
        best_lag,
        best_lag_r,
        {{ min_strength }} as min_strength,
        {{ dbt.string_literal(declared.from | replace("'", "''")) }} as declared_from,
        case
            {% if declared.problem %}
            when 1 = 1 then {{ dbt.string_literal(declared.problem | replace("'", "''")) }}
            {% elif declared.lag is not none and declared.lag < 0 %}
            when 1 = 1 then 'declared lag {{ declared.lag }} is negative: a follower trails its driver by 0 periods or more'
            {% endif %}
            when declared_lag_r is null then 'no measurable correlation at the declared lag: too few periods or non-null changes'
            when declared_lag_r < best_lag_r then 'the correlation of changes peaks at best_lag, not at the declared lag'
            when declared_lag_r < {{ min_strength }} then 'the correlation at the declared lag is below min_strength'
        end as problem
    from summary
)

select * from verdict
where problem is not null
{% endmacro %}
