{# One entry per source declaring `config.meta.synthetic`: {name, schema, block}, optionally filtered. #}
{% macro _synthetic_sources(select=none) %}
  {% set wanted = [select] if select is string else (select or []) %}
  {% set found = {} %}
  {% for node in graph.sources.values() %}
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
