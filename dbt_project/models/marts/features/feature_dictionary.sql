{#- One row per feature column of officer_features (generated from the same eis_features() list as the
    columns), plus one row with feature NULL per feature block that is disabled or whose table the drop
    does not provide (from feature_blocks), saying so in `description`. -#}
{{ config(materialized='table') }}
{%- set F = eis_features() %}

select
    cast(feature as text) as feature,
    cast(block as text) as block,
    cast("window" as text) as "window",
    cast(description as text) as description,
    cast(source_table as text) as source_table,
    cast(known_from as text) as known_from,
    cast(imputation as text) as imputation,
    cast(position as integer) as position
from (values
    {%- for f in F.features %}
    ({% for v in [f.name, f.block, f.window, f.description, f.source_table, f.known_from, f.imputation] %}{{ eis_sql_literal(v) }}, {% endfor %}{{ loop.index }}){{ ',' if not loop.last }}
    {%- endfor %}
    {%- if F.features | length == 0 %}
    (cast(null as text), cast(null as text), cast(null as text), cast(null as text), cast(null as text), cast(null as text), cast(null as text), 0)
    {%- endif %}
) as v (feature, block, "window", description, source_table, known_from, imputation, position)
{%- if F.features | length == 0 %}
where false
{%- endif %}

union all

select
    cast(null as text), b.block, cast(null as text),
    'block ' || b.block || ' ' || b.status || ': ' || b.reason,
    b.source_table, cast(null as text), cast(null as text),
    cast({{ F.features | length }} + row_number() over (order by b.block) as integer)
from {{ ref('feature_blocks') }} b
where b.status <> 'built'
