{#- Dispatches pre-aggregated ONCE per officer and knowledge day (issue 19.5): one pass over the
    dispatches joined to their calls gives every per-day sum int_dsp_daily's running totals need.
    A dispatch counts from the day of dispatched_at (calls, priority bands, call-type groups,
    officer-initiated, night, stress calls); its travel time (arrived_at - dispatched_at) from the day of
    arrived_at and its hours on the call (cleared_at - coalesce(arrived_at, dispatched_at)) from the day of
    cleared_at, so nothing is used before it happened.  An arrival or clearance on a later day than the
    dispatch (a few percent) is its own row for that later day, from a call-free pass: several rows per
    (officer_id, day) are possible and int_dsp_daily sums them.  Call-type groups: eis_call_type_groups().

    Measured choices (docs/dbt.md, "Dispatch running totals"): counts as count(*) FILTER and sums in
    double precision (date_part, not numeric extract: the running sums were numeric before); no parallel
    workers and a larger work_mem for this one statement (the hash join and the aggregate stayed in
    memory instead of spilling); the index on (officer_id, day) is the order int_dsp_daily reads.

    Incremental by load (issue 19.2, eis_incremental.sql): an append run re-aggregates only the officers of
    eis_dsp_affected(since) (a new dispatch, or a dispatch of a new call), every day from their first
    affected one; the strategy replaces those rows.  Hours and travel time are whole microseconds here
    (hours_us, travel_us): integer sums are exact in any order, so the re-aggregated days are the full
    build's numbers whatever plan PostgreSQL picks; int_dsp_daily turns them into hours and minutes. -#}
{{ config(materialized='incremental', incremental_strategy='eis_running_totals', on_schema_change='sync_all_columns', enabled=eis_block_on('dispatches'),
          indexes=[{'columns': ['officer_id', 'day']}],
          pre_hook=["set local work_mem = '256MB'", "set local max_parallel_workers_per_gather = 0"],
          post_hook=['{{ eis_incr_mark() }}']) }}
{%- set since = eis_incr_since() %}
{#- the dispatches a pass reads: all of them, or on an append run those of the affected officers with the
    first affected day (from_day) of their officer -#}
{%- if since is none %}
{%- set src = ref('stg_dispatches') %}
{%- else %}
{%- set src = '(select d.*, a.from_day from ' ~ ref('stg_dispatches') ~ ' d join affected a on a.officer_id = d.officer_id)' %}
{%- endif %}
{%- set groups = eis_call_type_groups() %}
{%- set grouped = [] %}
{%- for types in groups.values() %}{% for t in types %}{% do grouped.append(t) %}{% endfor %}{% endfor %}

with
{%- if since is not none %}
affected as (
    {{ eis_dsp_affected(since) }}
),
{%- endif %}
dispatched as (
    select
        d.officer_id,
        cast(d.dispatched_at as date) as day,
        d.dispatched_at, d.arrived_at, d.cleared_at,
        c.priority, c.call_type, c.source
    from {{ src }} d
    left join {{ ref('stg_calls_for_service') }} c on c.call_id = d.call_id
    where d.officer_id is not null and d.dispatched_at is not null
    {%- if since is not none %} and cast(d.dispatched_at as date) >= d.from_day{% endif %}
)

select
    officer_id,
    day,
    cast(count(*) as double precision) as calls,
    cast(count(*) filter (where priority between 1 and 3) as double precision) as prio_high,
    cast(count(*) filter (where priority between 4 and 6) as double precision) as prio_medium,
    cast(count(*) filter (where priority between 7 and 9) as double precision) as prio_low,
    cast(count(*) filter (where priority is null or priority not between 1 and 9) as double precision) as prio_unknown,
    {%- for g, types in groups.items() %}
    cast(count(*) filter (where call_type in {{ eis_sql_in_list(types) }}) as double precision) as grp_{{ g }},
    {%- endfor %}
    cast(count(*) filter (where call_type is null or call_type not in {{ eis_sql_in_list(grouped) }}) as double precision) as grp_other,
    cast(count(*) filter (where source = 'OFFICER_INITIATED') as double precision) as officer_initiated,
    cast(count(*) filter (where extract(hour from dispatched_at) >= 22 or extract(hour from dispatched_at) < 6)
         as double precision) as night,
    cast(count(*) filter (where call_type in {{ eis_sql_in_list(eis_stress_call_types()) }}) as double precision) as stress,
    coalesce(sum(round(date_part('epoch', cleared_at - coalesce(arrived_at, dispatched_at)) * 1000000))
             filter (where cast(cleared_at as date) = day), 0) as hours_us,
    coalesce(sum(round(date_part('epoch', arrived_at - dispatched_at) * 1000000))
             filter (where cast(arrived_at as date) = day), 0) as travel_us,
    cast(count(*) filter (where cast(arrived_at as date) = day) as double precision) as arrived
from dispatched
group by officer_id, day

union all

-- arrived on a later day than the dispatch: the travel time is known from the arrival day
select officer_id, cast(arrived_at as date), 0, 0, 0, 0, 0,
    {%- for g in groups.keys() | list + ['other'] %} 0,{% endfor %}
    0, 0, 0, 0, round(date_part('epoch', arrived_at - dispatched_at) * 1000000), 1
from {{ src }} d
where officer_id is not null and cast(arrived_at as date) > cast(dispatched_at as date)
{%- if since is not none %} and cast(arrived_at as date) >= from_day{% endif %}

union all

-- cleared on a later day than the dispatch: the hours are known from the clearing day
select officer_id, cast(cleared_at as date), 0, 0, 0, 0, 0,
    {%- for g in groups.keys() | list + ['other'] %} 0,{% endfor %}
    0, 0, 0, round(date_part('epoch', cleared_at - coalesce(arrived_at, dispatched_at)) * 1000000), 0, 0
from {{ src }} d
where officer_id is not null and cast(cleared_at as date) > cast(dispatched_at as date)
{%- if since is not none %} and cast(cleared_at as date) >= from_day{% endif %}
