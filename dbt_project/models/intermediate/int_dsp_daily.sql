{#- Dispatches per officer and knowledge day, running totals (what officer_features' lookups read).
    The per-day sums come from int_dsp_day (pre-aggregated once per officer and day; what counts from
    which day is documented there); this model only sums its rows per (officer_id, day) and runs the
    window sums over them, in the order of int_dsp_day's (officer_id, day) index, in double precision.
    Hours and travel time are summed as whole microseconds (hours_us, travel_us: exact integers, so an
    append run carries them on bit for bit) and divided once per row into hours and travel_min.  An append
    run (eis_incremental.sql) recomputes only the officers of eis_dsp_affected(since), from their first
    affected day, reading int_dsp_day through its index. -#}
-- depends_on: {{ ref('stg_dispatches') }}
-- depends_on: {{ ref('stg_calls_for_service') }}
{{ config(materialized='incremental', incremental_strategy='eis_running_totals', on_schema_change='sync_all_columns', enabled=eis_block_on('dispatches'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          pre_hook=["set local work_mem = '256MB'", "set local max_parallel_workers_per_gather = 0"],
          post_hook=['analyze {{ this }}', '{{ eis_incr_mark() }}']) }}
{%- set since = eis_incr_since() %}
{%- set metrics = [] %}
{%- for m in eis_source('dsp').metrics %}
{%- do metrics.append({'name': {'hours': 'hours_us', 'travel_min': 'travel_us'}.get(m.name, m.name)}) %}
{%- endfor %}

select
    r.officer_id,
    r.day,
    {%- for m in metrics %}
    r.{{ m.name }},
    {%- endfor %}
    r.hours_us / cast(3600000000 as double precision) as hours,
    r.travel_us / cast(60000000 as double precision) as travel_min
from (
    with events as (
        select * from {{ ref('int_dsp_day') }}
    )
    {{ eis_cumulate('events', metrics, since, eis_dsp_affected(since) if since is not none else none) }}
) r
