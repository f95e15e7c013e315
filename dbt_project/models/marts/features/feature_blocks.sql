{#- One row per feature block and source: built, disabled (configuration) or skipped (empty source table),
    and how many columns of officer_features it produced. -#}
{{ config(materialized='table') }}
{%- set F = eis_features() %}

select
    cast(v.block as text) as block,
    cast(v.source_table as text) as source_table,
    cast(v.status as text) as status,
    cast(v.reason as text) as reason,
    cast(v.n_columns as integer) as n_columns
from (values
    {%- for b in F.blocks %}
    ('{{ b.block }}', '{{ b.source_table }}', '{{ b.status }}', '{{ b.reason | replace("'", "''") }}',
     {{ F.features | selectattr('block', 'equalto', b.block) | list | length }}){{ ',' if not loop.last }}
    {%- endfor %}
) as v (block, source_table, status, reason, n_columns)
