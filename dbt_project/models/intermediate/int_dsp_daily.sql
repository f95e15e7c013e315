{#- Dispatches per officer and knowledge day, running totals.  A dispatch counts from the day of
    dispatched_at (calls, priority bands, call-type groups, officer-initiated, night, stress calls);
    its travel time (arrived_at - dispatched_at) from the day of arrived_at and its hours on the call
    (cleared_at - coalesce(arrived_at, dispatched_at)) from the day of cleared_at, so nothing is used
    before it happened.  Call-type groups: macro eis_call_type_groups(). -#}
{{ config(materialized='table', enabled=eis_block_on('dispatches'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook='analyze {{ this }}') }}
{%- set groups = eis_call_type_groups().keys() | list + ['other'] %}

with dispatched as (
    select
        d.officer_id,
        cast(d.dispatched_at as date) as day,
        1 as calls,
        case when c.priority between 1 and 3 then 1 else 0 end as prio_high,
        case when c.priority between 4 and 6 then 1 else 0 end as prio_medium,
        case when c.priority between 7 and 9 then 1 else 0 end as prio_low,
        case when c.priority is null or c.priority not between 1 and 9 then 1 else 0 end as prio_unknown,
        {{ eis_call_type_group('c.call_type') }} as call_group,
        case when c.source = 'OFFICER_INITIATED' then 1 else 0 end as officer_initiated,
        case when extract(hour from d.dispatched_at) >= 22 or extract(hour from d.dispatched_at) < 6
             then 1 else 0 end as night,
        case when c.call_type in ({% for t in eis_stress_call_types() %}'{{ t }}'{{ ', ' if not loop.last }}{% endfor %})
             then 1 else 0 end as stress,
        case when cast(d.cleared_at as date) = cast(d.dispatched_at as date)
             then extract(epoch from d.cleared_at - coalesce(d.arrived_at, d.dispatched_at)) / 3600.0
             else 0 end as hours,
        case when cast(d.arrived_at as date) = cast(d.dispatched_at as date)
             then extract(epoch from d.arrived_at - d.dispatched_at) / 60.0 else 0 end as travel_min,
        case when cast(d.arrived_at as date) = cast(d.dispatched_at as date) then 1 else 0 end as arrived
    from {{ ref('stg_dispatches') }} d
    left join {{ ref('stg_calls_for_service') }} c on c.call_id = d.call_id
),

events as (
    select officer_id, day, calls, prio_high, prio_medium, prio_low, prio_unknown,
        {%- for g in groups %}
        case when call_group = '{{ g }}' then 1 else 0 end as grp_{{ g }},
        {%- endfor %}
        officer_initiated, night, stress, hours, travel_min, arrived
    from dispatched

    union all

    -- arrivals on a later day than the dispatch: the travel time is known from the arrival day
    select officer_id, cast(arrived_at as date), 0, 0, 0, 0, 0,
        {%- for g in groups %} 0,{% endfor %}
        0, 0, 0, 0, extract(epoch from arrived_at - dispatched_at) / 60.0, 1
    from {{ ref('stg_dispatches') }}
    where cast(arrived_at as date) > cast(dispatched_at as date)

    union all

    -- cleared on a later day than the dispatch: the hours are known from the clearing day
    select officer_id, cast(cleared_at as date), 0, 0, 0, 0, 0,
        {%- for g in groups %} 0,{% endfor %}
        0, 0, 0, extract(epoch from cleared_at - coalesce(arrived_at, dispatched_at)) / 3600.0, 0, 0
    from {{ ref('stg_dispatches') }}
    where cast(cleared_at as date) > cast(dispatched_at as date)
)
{{ eis_cumulate('events', eis_source('dsp').metrics) }}
