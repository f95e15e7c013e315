{#- Traffic stops per officer and day of stopped_at, running totals: stops, searches, searches that
    found contraband (hits), stops ending in arrest, stops with use of force. -#}
{{ config(materialized='table', enabled=eis_block_on('traffic_stops'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook='analyze {{ this }}') }}

with events as (
    select
        officer_id,
        cast(stopped_at as date) as day,
        1 as stops,
        case when searched then 1 else 0 end as searches,
        case when searched and contraband_found then 1 else 0 end as hits,
        case when outcome = 'ARREST' then 1 else 0 end as arrests,
        case when use_of_force then 1 else 0 end as uof
    from {{ ref('stg_traffic_stops') }}
)
{{ eis_cumulate('events', eis_source('ts').metrics) }}
