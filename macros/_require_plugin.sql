{# Fail early, and say what to add, when the profile does not load the dbt-plotsim plugin. #}
{% macro _require_plugin() %}
  {% if target.type != 'duckdb' %}
    {% do exceptions.raise_compiler_error("dbt-plotsim generates into DuckDB; target '" ~ target.name
          ~ "' is " ~ target.type ~ ". Use a dbt-duckdb target (Parquet output can then feed any warehouse).") %}
  {% endif %}
  {% set found = run_query("select count(*) from duckdb_functions() where function_name = 'plotsim_generate'") %}
  {% if found.columns[0].values()[0] == 0 %}
    {% do exceptions.raise_compiler_error(
      "dbt-plotsim's DuckDB plugin is not loaded for target '" ~ target.name ~ "'. "
      ~ "Add it to that output in profiles.yml:\n\n"
      ~ "      plugins:\n        - module: dbt_plotsim.plugin\n          alias: plotsim\n") %}
  {% endif %}
{% endmacro %}
