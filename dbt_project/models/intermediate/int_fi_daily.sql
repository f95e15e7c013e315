{#- Field interviews per officer and day of occurred_at, running totals, all and by fi_type. -#}
{{ config(materialized='incremental', incremental_strategy='eis_running_totals', on_schema_change='sync_all_columns', enabled=eis_block_on('field_interviews'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook=['analyze {{ this }}', '{{ eis_incr_mark() }}']) }}

with events as (
    select
        officer_id,
        load_id,
        cast(occurred_at as date) as day,
        1 as total,
        {%- for t in eis_codes().fi_type %}
        case when fi_type = '{{ t }}' then 1 else 0 end as type_{{ t | lower }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_field_interviews') }}
)
{{ eis_cumulate('events', eis_source('fi').metrics, eis_incr_since()) }}
