{{ config(tags=['loads']) }}
{{ dbt_plotsim.snapshot_differences(ref('snap_growing__plan'), source('growing', 'dim_account_plan_history'),
                                    entity='account_id', columns=['plan']) }}
