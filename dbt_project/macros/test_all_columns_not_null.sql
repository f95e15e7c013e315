{#
    Generic data test: no column of `model` holds NULL (and no double precision column holds NaN).
    Used on features.officer_features, whose columns are generated from eis_features().
#}
{% test all_columns_not_null(model) %}
{%- set cols = adapter.get_columns_in_relation(model) if execute else [] %}
select *
from {{ model }}
where
{%- if cols | length == 0 %} false
{%- else %}
{%- for c in cols %}
    {{ adapter.quote(c.name) }} is null
    {%- if c.dtype in ['double precision', 'float8'] %} or {{ adapter.quote(c.name) }} = 'NaN'::double precision{% endif %}
    {{- ' or' if not loop.last }}
{%- endfor %}
{%- endif %}
{% endtest %}
