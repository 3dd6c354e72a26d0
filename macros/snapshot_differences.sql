{#
  The versions on which a dbt snapshot and a declared SCD2 history disagree: one row per version that only
  one side has, with `side` saying which. Versions compare on the entity, the given columns, the day the
  version took effect and the day it ended when a later version followed; a last version compares only on
  whether it is closed, since dbt closes a hard-deleted row at the time the snapshot ran.

    {{ dbt_plotsim.snapshot_differences(ref('snap_account_plan'), source('saas', 'dim_account_plan_history'),
                                        entity='account_id', columns=['plan']) }}

  As a generic test on the snapshot (fails when any row comes back):

    snapshots:
      - name: snap_account_plan
        data_tests:
          - dbt_plotsim.snapshot_matches_history:
              arguments: {history: "source('saas', 'dim_account_plan_history')", entity: account_id, columns: [plan]}
#}
{% macro snapshot_differences(snapshot, history, entity, columns, snapshot_from='dbt_valid_from',
                              snapshot_to='dbt_valid_to', history_from='valid_from', history_to='valid_to') %}
{%- set compared = ([entity] + columns) | join(', ') %}
with snapshot_versions as (
    {{ dbt_plotsim._versions(snapshot, entity, compared, snapshot_from, snapshot_to) }}
),

history_versions as (
    {{ dbt_plotsim._versions(history, entity, compared, history_from, history_to) }}
)

select 'only in the snapshot' as side, * from (select * from snapshot_versions except select * from history_versions)
union all
select 'only in the history' as side, * from (select * from history_versions except select * from snapshot_versions)
{% endmacro %}

{% macro _versions(relation, entity, compared, valid_from, valid_to) %}
    select
        {{ compared }},
        cast({{ valid_from }} as date) as took_effect,
        case when lead({{ valid_from }}) over (partition by {{ entity }} order by {{ valid_from }}) is not null
             then cast({{ valid_to }} as date) end as ended,
        {{ valid_to }} is not null as closed
    from {{ relation }}
{% endmacro %}
