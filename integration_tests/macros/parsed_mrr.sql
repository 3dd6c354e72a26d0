{# The messy source's MRR as typed by hand (number_as_text): 'N/A' or '' is null; a last mark ',' is a
   decimal comma ("1.234,50"), else ',' groups thousands. `text` is a trimmed text expression. #}
{% macro parsed_mrr(text) %}
case when {{ text }} in ('N/A', '') then null
     when regexp_matches({{ text }}, ',[0-9]+$')
         then cast(replace(replace(replace({{ text }}, '$', ''), '.', ''), ',', '.') as double)
     else cast(replace(replace({{ text }}, '$', ''), ',', '') as double) end
{% endmacro %}
