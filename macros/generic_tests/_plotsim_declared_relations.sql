{#
  Declared relations of one kind ('lag' | 'correlation') that generate_synthetic recorded in
  <database>.<schema>._plotsim_relations, for the package's generic tests. `candidates` are relations
  (the tested model first, then other_model / driver_model); the first schema holding the table wins, so
  a test on a model can read the relations of the synthetic source it is compared with.

  Returns {"where": "<db>.<schema>._plotsim_relations", "rows": [{metric, other, value}, ...]}, names
  lower-cased; when no candidate schema has the table, "rows" is none and "where" says where it looked.
  Runs queries: call it only when `execute` is true.
#}
{% macro _plotsim_declared_relations(candidates, kind) %}
  {% set looked = [] %}
  {% for candidate in candidates if candidate is not none %}
    {% if candidate is not string and candidate.schema is defined %}
      {% set where = [candidate.database, candidate.schema, '_plotsim_relations'] | select | join('.') %}
      {% set table = adapter.get_relation(database=candidate.database, schema=candidate.schema, identifier='_plotsim_relations') %}
      {% if table is not none %}
        {% set result = run_query("select metric, other, value from " ~ table ~ " where kind = '" ~ kind ~ "'") %}
        {% set rows = [] %}
        {% for row in result.rows %}
          {% do rows.append({"metric": row[0] | lower, "other": row[1] | lower, "value": row[2]}) %}
        {% endfor %}
        {{ return({"where": where, "rows": rows}) }}
      {% endif %}
      {% if where not in looked %}{% do looked.append(where) %}{% endif %}
    {% endif %}
  {% endfor %}
  {% set nowhere = "no table " ~ looked | join(" or ") if looked
                   else "the tested model is a `where:` subquery, where no _plotsim_relations can be looked up" %}
  {{ return({"where": nowhere, "rows": none}) }}
{% endmacro %}
