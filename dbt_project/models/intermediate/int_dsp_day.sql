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
    memory instead of spilling); the index on (officer_id, day) is the order int_dsp_daily reads. -#}
{{ config(materialized='table', enabled=eis_block_on('dispatches'),
          indexes=[{'columns': ['officer_id', 'day']}],
          pre_hook=["set local work_mem = '256MB'", "set local max_parallel_workers_per_gather = 0"]) }}
{%- set groups = eis_call_type_groups() %}
{%- set grouped = [] %}
{%- for types in groups.values() %}{% for t in types %}{% do grouped.append(t) %}{% endfor %}{% endfor %}

with dispatched as (
    select
        d.officer_id,
        cast(d.dispatched_at as date) as day,
        d.dispatched_at, d.arrived_at, d.cleared_at,
        c.priority, c.call_type, c.source
    from {{ ref('stg_dispatches') }} d
    left join {{ ref('stg_calls_for_service') }} c on c.call_id = d.call_id
    where d.officer_id is not null and d.dispatched_at is not null
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
    coalesce(sum(date_part('epoch', cleared_at - coalesce(arrived_at, dispatched_at)) / 3600.0)
             filter (where cast(cleared_at as date) = day), 0) as hours,
    coalesce(sum(date_part('epoch', arrived_at - dispatched_at) / 60.0)
             filter (where cast(arrived_at as date) = day), 0) as travel_min,
    cast(count(*) filter (where cast(arrived_at as date) = day) as double precision) as arrived
from dispatched
group by officer_id, day

union all

-- arrived on a later day than the dispatch: the travel time is known from the arrival day
select officer_id, cast(arrived_at as date), 0, 0, 0, 0, 0,
    {%- for g in groups.keys() | list + ['other'] %} 0,{% endfor %}
    0, 0, 0, 0, date_part('epoch', arrived_at - dispatched_at) / 60.0, 1
from {{ ref('stg_dispatches') }}
where officer_id is not null and cast(arrived_at as date) > cast(dispatched_at as date)

union all

-- cleared on a later day than the dispatch: the hours are known from the clearing day
select officer_id, cast(cleared_at as date), 0, 0, 0, 0, 0,
    {%- for g in groups.keys() | list + ['other'] %} 0,{% endfor %}
    0, 0, 0, date_part('epoch', cleared_at - coalesce(arrived_at, dispatched_at)) / 3600.0, 0, 0
from {{ ref('stg_dispatches') }}
where officer_id is not null and cast(cleared_at as date) > cast(dispatched_at as date)
