{#- Crime reports the officer responded to (crime_reports.officer_id), per knowledge day (reported_at),
    running totals of all reports and of the stress flags. -#}
{{ config(materialized='table', enabled=eis_block_on('dispatches'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook='analyze {{ this }}') }}
{%- set flags = ['child_involved', 'gang_related', 'narcotics', 'domestic_violence', 'suicide_related'] %}

with events as (
    select
        officer_id,
        cast(reported_at as date) as day,
        1 as reports,
        case when {% for f in flags %}{{ f }}{{ ' or ' if not loop.last }}{% endfor %} then 1 else 0 end as stress_any,
        {%- for f in flags %}
        case when {{ f }} then 1 else 0 end as {{ f }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_crime_reports') }}
    where officer_id is not null
)
{{ eis_cumulate('events', eis_source('crs').metrics) }}
