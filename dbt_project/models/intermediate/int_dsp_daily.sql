{#- Dispatches per officer and knowledge day, running totals (what officer_features' lookups read).
    The per-day sums come from int_dsp_day (pre-aggregated once per officer and day; what counts from
    which day is documented there); this model only sums its rows per (officer_id, day) and runs the
    window sums over them, in the order of int_dsp_day's (officer_id, day) index, in double precision. -#}
{{ config(materialized='table', enabled=eis_block_on('dispatches'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          pre_hook=["set local work_mem = '256MB'", "set local max_parallel_workers_per_gather = 0"],
          post_hook='analyze {{ this }}') }}

with events as (
    select * from {{ ref('int_dsp_day') }}
)
{{ eis_cumulate('events', eis_source('dsp').metrics) }}
