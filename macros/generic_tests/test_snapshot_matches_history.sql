{#
  A dbt snapshot equals a declared SCD2 history (see snapshot_differences for how versions compare):

    snapshots:
      - name: snap_account_plan
        data_tests:
          - dbt_plotsim.snapshot_matches_history:
              arguments:
                history: "{{ source('saas', 'dim_account_plan_history') }}"
                entity: account_id
                columns: [plan]

  Failing rows: side ('only in the snapshot' / 'only in the history'), the entity, the columns, took_effect,
  ended, closed.
#}
{% test snapshot_matches_history(model, history, entity, columns) %}
  {{ dbt_plotsim.snapshot_differences(model, history, entity, columns) }}
{% endtest %}
