{#- One row per feature column of officer_features (generated from the same eis_features() list as the
    columns), plus one row with feature NULL per feature block that was disabled or skipped (e.g. an
    optional table absent from the drop), saying so in `description`. -#}
{{ config(materialized='table') }}
{%- set F = eis_features() %}
{%- set rows = [] %}
{%- for f in F.features %}
    {%- do rows.append([f.name, f.block, f.window, f.description, f.source_table, f.known_from, f.imputation]) %}
{%- endfor %}
{%- for b in F.blocks if b.status != 'built' %}
    {%- do rows.append([none, b.block, none, 'block ' ~ b.block ~ ' ' ~ b.reason, b.source_table, none, none]) %}
{%- endfor %}



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
    {%- for r in rows %}
    ({% for v in r %}{{ eis_sql_literal(v) }}, {% endfor %}{{ loop.index }}){{ ',' if not loop.last }}
    {%- endfor %}
    {%- if rows | length == 0 %}
    (cast(null as text), cast(null as text), cast(null as text), cast(null as text), cast(null as text), cast(null as text), cast(null as text), 0)
    {%- endif %}
) as v (feature, block, "window", description, source_table, known_from, imputation, position)
{%- if rows | length == 0 %}
where false
{%- endif %}
