{#- Secondary employment per officer and day of start_at, running totals: jobs, hours, incidents. -#}
{{ config(materialized='incremental', incremental_strategy='eis_running_totals', on_schema_change='sync_all_columns', enabled=eis_block_on('secondary_employment'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook=['analyze {{ this }}', '{{ eis_incr_mark() }}']) }}

with events as (
    select
        officer_id,
        load_id,
        cast(start_at as date) as day,
        1 as jobs,
        hours,
        incident_count as incidents
    from {{ ref('stg_secondary_employment') }}
)
{{ eis_cumulate('events', eis_source('sec').metrics, eis_incr_since()) }}
