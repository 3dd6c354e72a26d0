{#
  Declared relations of one kind ('lag' | 'correlation') that generate_synthetic recorded in
  <database>.<schema>._plotsim_relations, for the package's generic tests. `candidates` are relations
  (the tested model first, then other_model / driver_model); the first schema holding the table wins, so
  a test on a model can read the relations of the synthetic source it is compared with.

  Returns {"where": "<db>.<schema>._plotsim_relations", "rows": [{metric, other, value, scope}, ...]}, names
  lower-cased; when no candidate schema has the table, "rows" is none and "where" says where it looked.
  Runs queries: call it only when `execute` is true.
#}
{% macro _plotsim_declared_relations(candidates, kind) %}
  {% set looked = [] %}
  {% for candidate in candidates if candidate is not none %}
    {% if candidate is not string and candidate.schema is defined %}
      {% set where = [candidate.database, candidate.schema, '_plotsim_relations'] | select | join('.') %}
      {% set table = adapter.get_relation(database=candidate.database, schema=candidate.schema, identifier='_plotsim_relations') %}
      {% if table is none %}
        {# dbt's relation cache is filled when the run starts: ask the database itself before saying "no table" #}
        {% set listed = run_query("select table_name from information_schema.tables where lower(table_schema) = lower('"
                                  ~ candidate.schema ~ "') and lower(table_name) = '_plotsim_relations'"
                                  ~ (" and lower(table_catalog) = lower('" ~ candidate.database ~ "')" if candidate.database else "")) %}
        {% if listed.rows | length > 0 %}
          {% set table = api.Relation.create(database=candidate.database, schema=candidate.schema,
                                             identifier='_plotsim_relations') %}
        {% endif %}
      {% endif %}
      {% if table is not none %}
        {% set result = run_query("select * from " ~ table ~ " where kind = '" ~ kind ~ "'") %}
        {% set names = result.column_names | map('lower') | list %}
        {% set rows = [] %}
        {% for row in result.rows %}
          {% set scope = row[names.index('scope')] if 'scope' in names else none %}
          {% do rows.append({"metric": row[names.index('metric')] | lower, "other": row[names.index('other')] | lower,
                             "value": row[names.index('value')], "scope": scope or 'pooled'}) %}
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
