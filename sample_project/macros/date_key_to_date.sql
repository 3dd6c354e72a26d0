{#
  The raw tables key months by an integer yyyymmdd (20230101). Staging turns every such key into a DATE
  (2023-01-01), so nothing downstream does date arithmetic on integers. A null key stays null.
#}
{% macro date_key_to_date(column) -%}
  strptime({{ column }}::varchar, '%Y%m%d')::date
{%- endmacro %}
