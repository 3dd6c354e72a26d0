{#
  Materialize every synthetic source (a source with `config: {meta: {synthetic: ...}}`) into its schema.

    dbt run-operation generate_synthetic
    dbt run-operation generate_synthetic --args '{select: [saas], force: true}'
    dbt run-operation generate_synthetic --args '{select: "saas stores"}'

  From a hook, behind a var, so one command generates then builds (vars select and force there too):
    on-run-start: ["{{ dbt_plotsim.generate_synthetic(hook=true) }}"]
    dbt build --vars '{plotsim_generate: true, plotsim_select: saas, plotsim_force: true}'

  `--vars '{plotsim_as_of: 2024-06-30}'` generates every selected source as of that date (window.as_of).
#}
{% macro generate_synthetic(select=none, force=false, hook=false) %}
  {{ return(adapter.dispatch('generate_synthetic', 'dbt_plotsim')(select, force, hook)) }}
{% endmacro %}

{% macro default__generate_synthetic(select, force, hook) %}
  {% if not execute %}{{ return('') }}{% endif %}
  {% if hook and not var('plotsim_generate', false) %}{{ return('') }}{% endif %}
  {% if hook %}
    {% set select = select or var('plotsim_select', none) %}
    {% set force = force or var('plotsim_force', false) %}
  {% endif %}
  {% set sources = dbt_plotsim._synthetic_sources(select) %}
  {% if sources | length == 0 %}
    {% do exceptions.raise_compiler_error(
      "dbt-plotsim: no synthetic sources in this project. dbt only sees a source that lists its tables: after "
      ~ "adding `config: meta: synthetic:` to a source, run `dbt-plotsim sync-sources <its sources YAML>` "
      ~ "to list the tables, then run this again.") %}
  {% endif %}
  {{ dbt_plotsim._require_plugin() }}
  {% set as_of = var('plotsim_as_of', none) %}  {# yaml may read it as a date: sent as text #}
  {% set total = sources | length %}
  {% for source in sources %}
    {% set label = loop.index ~ " of " ~ total %}
    {{ log(label ~ " START synthetic source " ~ source.name ~ " into " ~ source.schema, info=true) }}
    {% set request = tojson({
      "source": source.name, "schema": source.schema, "block": source.block, "force": force, "label": label,
      "as_of": (as_of | string) if as_of is not none else none
    }) %}
    {% set answer = run_query("select plotsim_generate('" ~ adapter.escape_sql_string(request) ~ "')") %}
    {% set outcome = fromjson(answer.columns[0].values()[0]) %}
    {% if outcome.status == 'generated' %}
      {% for warning in outcome.warnings or [] %}
        {{ log(label ~ " WARN synthetic source " ~ source.name ~ ": " ~ warning, info=true) }}
      {% endfor %}
      {{ log(label ~ " OK synthetic source " ~ source.name ~ ": " ~ outcome.tables | length ~ " tables, "
             ~ "{:,}".format(outcome.rows) ~ " rows in " ~ outcome.seconds ~ "s", info=true) }}
    {% elif outcome.status == 'appended' %}
      {{ log(label ~ " APPEND synthetic source " ~ source.name ~ ": " ~ outcome.detail ~ " in " ~ outcome.seconds
             ~ "s", info=true) }}
    {% elif outcome.status == 'skipped' %}
      {{ log(label ~ " SKIP synthetic source " ~ source.name ~ ": " ~ outcome.detail ~ " (force: true regenerates)", info=true) }}
    {% elif outcome.status == 'interrupted' %}
      {% do exceptions.raise_compiler_error("dbt-plotsim: source '" ~ source.name ~ "' " ~ outcome.problems[0]) %}
    {% else %}
      {% do exceptions.raise_compiler_error(
        "dbt-plotsim could not generate source '" ~ source.name ~ "'; nothing was changed:\n  - "
        ~ outcome.problems | join("\n  - ")) %}
    {% endif %}
  {% endfor %}
  {{ return('') }}
{% endmacro %}
