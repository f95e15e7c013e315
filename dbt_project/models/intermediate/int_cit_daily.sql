{#- Citations per officer and day of issued_at, running totals, all and by citation_type. -#}
{{ config(materialized='table', enabled=eis_block_on('citations'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook='analyze {{ this }}') }}

with events as (
    select
        officer_id,
        cast(issued_at as date) as day,
        1 as total,
        {%- for t in eis_codes().citation_type %}
        case when citation_type = '{{ t }}' then 1 else 0 end as type_{{ t | lower }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_citations') }}
)
{{ eis_cumulate('events', eis_source('cit').metrics) }}
