{#
    Generic data test: every non-null `column_name` of `model` is an officer_id of staging.stg_officers
    (a relationships test to stg_officers).  The staging relation is looked up in the graph at run time
    instead of through ref(), so the test has ONE parent (`model`): a staging-only build
    (`--select path:models/staging`, eager indirect selection) does not pick it up before the mart exists.
#}
{% test known_officer(model, column_name) %}
{%- set rel = (graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
               | selectattr('name', 'equalto', 'stg_officers') | map(attribute='relation_name') | first)
              if execute else none %}
{%- if execute and not rel %}{{ exceptions.raise_compiler_error("known_officer: model stg_officers not found") }}{% endif %}
select m.{{ column_name }}
from {{ model }} m
{%- if rel %}
left join {{ rel }} o on o.officer_id = m.{{ column_name }}
where m.{{ column_name }} is not null and o.officer_id is null
{%- else %}
where false
{%- endif %}
{% endtest %}
