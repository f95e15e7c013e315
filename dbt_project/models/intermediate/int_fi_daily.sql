{#- Field interviews per officer and day of occurred_at, running totals, all and by fi_type. -#}
{{ config(materialized='table', enabled=eis_block_on('field_interviews'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook='analyze {{ this }}') }}

with events as (
    select
        officer_id,
        cast(occurred_at as date) as day,
        1 as total,
        {%- for t in eis_codes().fi_type %}
        case when fi_type = '{{ t }}' then 1 else 0 end as type_{{ t | lower }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_field_interviews') }}
)
{{ eis_cumulate('events', eis_source('fi').metrics) }}
