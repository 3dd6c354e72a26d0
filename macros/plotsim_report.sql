{#
  Write the fidelity report of one synthetic source: an HTML page (declared against delivered correlations,
  lags and distributions; trajectories, arrivals, seasonality, keys and row counts) and a JSON beside it.

    dbt run-operation dbt_plotsim.plotsim_report --args '{source: saas}'
    dbt run-operation dbt_plotsim.plotsim_report --args '{source: saas, out: reports/saas.html}'

  `out` is relative to the dbt project (default: target/plotsim_report_<source>.html).
#}
{% macro plotsim_report(source, out=none) %}
  {{ return(adapter.dispatch('plotsim_report', 'dbt_plotsim')(source, out)) }}
{% endmacro %}

{% macro default__plotsim_report(source, out) %}
  {% if not execute %}{{ return('') }}{% endif %}
  {% set found = dbt_plotsim._synthetic_sources([source]) %}
  {{ dbt_plotsim._require_plugin() }}
  {% set request = tojson({"source": found[0].name, "schema": found[0].schema, "block": found[0].block, "out": out}) %}
  {% set answer = run_query("select plotsim_report('" ~ adapter.escape_sql_string(request) ~ "')") %}
  {% set outcome = fromjson(answer.columns[0].values()[0]) %}
  {% if outcome.status != 'written' %}
    {% do exceptions.raise_compiler_error("dbt-plotsim could not write the report of source '" ~ source ~ "':\n  - "
          ~ outcome.problems | join("\n  - ")) %}
  {% endif %}
  {{ log("Fidelity report of " ~ source ~ ": " ~ outcome.pass ~ " pass, " ~ outcome.warn ~ " warn", info=true) }}
  {{ log("  " ~ outcome.html, info=true) }}
  {{ log("  " ~ outcome.json, info=true) }}
  {{ return('') }}
{% endmacro %}
