{#- Arrests per officer and day of arrested_at, running totals: all, discretionary-only charges,
    probable cause false or missing, by charge category. -#}
{{ config(materialized='table', enabled=eis_block_on('arrests'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook='analyze {{ this }}') }}

with events as (
    select
        officer_id,
        cast(arrested_at as date) as day,
        1 as total,
        case when discretionary_only then 1 else 0 end as discretionary,
        case when probable_cause is not true then 1 else 0 end as no_probable_cause,
        {%- for t in eis_codes().charge_category %}
        case when charge_category = '{{ t }}' then 1 else 0 end as charge_{{ t | lower }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_arrests') }}
)
{{ eis_cumulate('events', eis_source('arr').metrics) }}
