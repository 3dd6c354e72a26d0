{#
  Use a model's custom schema as is (`staging`, `intermediate`, `marts`) rather than dbt's default
  `<target schema>_<custom schema>`, so the warehouse reads raw_saas -> staging -> intermediate -> marts.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
