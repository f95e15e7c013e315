{#- Secondary employment per officer and day of start_at, running totals: jobs, hours, incidents. -#}
{{ config(materialized='table', enabled=eis_block_on('secondary_employment'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook='analyze {{ this }}') }}

with events as (
    select
        officer_id,
        cast(start_at as date) as day,
        1 as jobs,
        hours,
        incident_count as incidents
    from {{ ref('stg_secondary_employment') }}
)
{{ eis_cumulate('events', eis_source('sec').metrics) }}
