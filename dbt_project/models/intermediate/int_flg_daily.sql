{#- Legacy EIS flags per officer and flagged_on, running totals. -#}
{{ config(materialized='table', enabled=eis_block_on('eis_flags'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook='analyze {{ this }}') }}

with events as (
    select officer_id, flagged_on as day, 1 as flags
    from {{ ref('stg_eis_flags') }}
)
{{ eis_cumulate('events', eis_source('flg').metrics) }}
