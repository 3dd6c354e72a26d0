{#
  The columns together identify a row: no combination appears twice and none has a null part.
  Returns one row per duplicated or incomplete key: zero rows = pass.
#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
  {% for column in columns %} or {{ column }} is null{% endfor %}
{% endtest %}
