{# One entry per source declaring `config.meta.synthetic`: {name, schema, block}, optionally filtered.
   `select` is a list of source names or a dbt-style string ("saas stores" or "saas,stores"). #}
{% macro _synthetic_sources(select=none) %}
  {% set wanted = (select | replace(",", " ")).split() if select is string else (select or []) %}
  {% set found = {} %}
  {% for node in graph.sources.values() %}
    {% if 'synthetic' in (node.config or {}) and node.config.get('synthetic') is not none %}
      {% do exceptions.raise_compiler_error("dbt-plotsim: source '" ~ node.source_name ~ "' has `synthetic:` directly under `config:`; "
            ~ "it belongs under `config: meta:` (sources." ~ node.source_name ~ ".config.meta.synthetic)") %}
    {% endif %}
    {% for key in (node.source_meta or {}).keys() if key != 'synthetic' and key.lower().startswith('synth') %}
      {% do exceptions.raise_compiler_error("dbt-plotsim: source '" ~ node.source_name ~ "' has meta key '" ~ key
            ~ "'; did you mean 'synthetic'?") %}
    {% endfor %}
    {% set block = (node.source_meta or {}).get('synthetic') %}
    {% if block is not none and node.source_name not in found
          and (wanted | length == 0 or node.source_name in wanted) %}
      {% do found.update({node.source_name: {"name": node.source_name, "schema": node.schema, "block": block}}) %}
    {% endif %}
  {% endfor %}
  {% set unknown = [] %}
  {% for name in wanted if name not in found %}{% do unknown.append(name) %}{% endfor %}
  {% if unknown %}
    {% do exceptions.raise_compiler_error("generate_synthetic: no synthetic source named " ~ unknown | join(", ")
          ~ "; synthetic sources here: " ~ (dbt_plotsim._synthetic_sources() | map(attribute='name') | join(", ") or "none")) %}
  {% endif %}
  {{ return(found.values() | list) }}
{% endmacro %}
