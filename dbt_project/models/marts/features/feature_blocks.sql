{#- One row per feature block: built (its tables hold rows), not_provided (the config names it but the drop
    has no row in one of its tables: its columns exist, counts 0, means and attributes NULL-imputed with
    their _missing indicator set; see docs/features.md) or disabled (configuration), and how many columns
    of officer_features it produced.  The status is decided here, in SQL at run time; the columns of
    officer_features depend only on the configuration. -#}
{{ config(materialized='table') }}
{%- set F = eis_features() %}

{%- for b in F.blocks %}
{%- if not loop.first %}
union all
{%- endif %}
select
    cast('{{ b.block }}' as text) as block,
    cast('{{ b.tables | join(", ") }}' as text) as source_table,
    {%- if not b.on %}
    cast('disabled' as text) as status,
    cast('disabled in the configuration (feature_blocks)' as text) as reason,
    {%- elif b.tables | length == 0 %}
    cast('built' as text) as status,
    cast('' as text) as reason,
    {%- else %}
    case when {% for t in b.tables %}exists (select 1 from {{ ref('stg_' ~ t) }}){{ ' and ' if not loop.last }}{% endfor %}
         then 'built' else 'not_provided' end as status,
    concat_ws('; '
        {%- for t in b.tables %},
        case when not exists (select 1 from {{ ref('stg_' ~ t) }})
             then 'raw.{{ t }} is empty or absent from the drop: columns kept, counts 0, means NULL-imputed (_missing = 1)' end
        {%- endfor %}) as reason,
    {%- endif %}
    cast({{ F.features | selectattr('block', 'equalto', b.block) | list | length }} as integer) as n_columns
{%- endfor %}
