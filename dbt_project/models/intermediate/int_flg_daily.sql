{#- Legacy EIS flags per officer and flagged_on, running totals. -#}
{{ config(materialized='incremental', incremental_strategy='eis_running_totals', on_schema_change='sync_all_columns', enabled=eis_block_on('eis_flags'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook=['analyze {{ this }}', '{{ eis_incr_mark() }}']) }}

with events as (
    select officer_id, load_id, flagged_on as day, 1 as flags
    from {{ ref('stg_eis_flags') }}
)
{{ eis_cumulate('events', eis_source('flg').metrics, eis_incr_since()) }}
