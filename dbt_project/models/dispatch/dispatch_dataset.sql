{#- The dispatch-level dataset (issue 9): one row per dispatch (call_id, officer_id).

    Column groups (docs/dispatch.md has every column and when it becomes known):
      call_*    the call as known when the officer is dispatched (priority, type, source, hour, weekday,
                division, beat, queue minutes, whether another officer was dispatched earlier);
      arr_*     known on arrival only (travel minutes, arrived): the exploratory model may use them, the
                dispatch-suggestion model may not;
      st_*      the officer's short-term stress at dispatched_at, from the officer's earlier dispatches:
                hours on duty in the current duty session, dispatches and stress calls earlier in it,
                stress calls in the 7 days before, consecutive days with dispatches;
      hist_*    the officer's history known before the dispatch day (dispatch_officer_days);
      nbh_*     the call beat's neighbourhood figures of the latest year before the dispatch year;
      label     1 when an adverse IA case (var eis.adverse_events, final disposition) of this officer
                names this call_id.  Labels look forward by design, like labels.officer_labels.
    A duty session is a run of the officer's dispatches with gaps of at most var dispatch.session_gap_hours
    (default 8) between consecutive dispatched_at; the records hold no duty roster.
    Set-based: one sort per officer for the window functions, one per call for the backup flag. -#}
{{ config(materialized='table', tags=['dispatch'], post_hook='analyze {{ this }}') }}
{%- set dcfg = var('dispatch', {}) or {} %}
{%- set gap_hours = dcfg.get('session_gap_hours', 8) | float %}
{%- set stress_types = dcfg.get('stress_call_types', eis_stress_call_types()) %}

with base as (
    select
        d.call_id,
        d.officer_id,
        d.dispatched_at,
        d.arrived_at,
        cast(d.dispatched_at as date) as dispatch_date,
        c.received_at,
        c.call_type,
        c.priority,
        c.source,
        c.division,
        c.beat,
        case when c.call_type in ({% for t in stress_types %}'{{ t }}'{{ ', ' if not loop.last }}{% endfor %})
             then 1 else 0 end as stress,
        -- another officer was dispatched to the call earlier (known at dispatch time)
        case when min(d.dispatched_at) over (partition by d.call_id) < d.dispatched_at then 1 else 0 end as is_backup
    from {{ ref('stg_dispatches') }} d
    left join {{ ref('stg_calls_for_service') }} c on c.call_id = d.call_id
),

sessions as (
    select *,
        case when lag(dispatched_at) over w_off is null
               or dispatched_at - lag(dispatched_at) over w_off > interval '{{ gap_hours }} hours'
             then 1 else 0 end as new_session,
        -- dispatches / stress calls strictly earlier in time (peers with the same timestamp excluded)
        count(*) over w_before as n_before,
        coalesce(sum(stress) over w_before, 0) as stress_before,
        coalesce(sum(stress) over w_7d, 0) as stress_7d
    from base
    window w_off as (partition by officer_id order by dispatched_at, call_id),
           w_before as (partition by officer_id order by dispatched_at
                        range between unbounded preceding and interval '1 microsecond' preceding),
           w_7d as (partition by officer_id order by dispatched_at
                    range between interval '7 days' preceding and interval '1 microsecond' preceding)
),

shift as (
    select *,
        -- running max over the same ordering: the start (and the counts before it) of the current session
        max(case when new_session = 1 then dispatched_at end) over w_run as session_start,
        max(case when new_session = 1 then n_before end) over w_run as n_before_session,
        max(case when new_session = 1 then stress_before end) over w_run as stress_before_session
    from sessions
    window w_run as (partition by officer_id order by dispatched_at, call_id
                     rows between unbounded preceding and current row)
),

duty_days as (
    select officer_id, day,
        cast(row_number() over (partition by officer_id, island order by day) as double precision) as consecutive_days
    from (
        select officer_id, day,
            day - cast(row_number() over (partition by officer_id order by day) as integer) as island
        from (select distinct officer_id, dispatch_date as day from base) dd
    ) i
),

nbh_years as (
    -- for each beat and dispatch year Y: the latest neighbourhood year before Y
    select distinct on (y.beat, y.year) y.beat, y.year, n.population, n.calls_311_per_1k, n.vacant_land_pct,
        n.median_income, n.violent_crime_per_1k, n.nuisance_violations_per_1k, n.avg_age_at_death
    from (select distinct beat, cast(extract(year from dispatch_date) as bigint) as year from base) y
    join {{ ref('stg_neighborhoods') }} n on n.beat = y.beat and n.year < y.year
    order by y.beat, y.year, n.year desc
),

adverse as (
    select distinct call_id, officer_id
    from {{ ref('stg_ia_cases') }}
    where call_id is not null and {{ eis_is_adverse('event_type', 'disposition') }}
)

select
    s.call_id,
    s.officer_id,
    s.dispatched_at,
    s.dispatch_date,
    s.call_type,
    s.division,
    s.beat,
    -- the call, known at dispatch time
    cast(s.priority as double precision) as call_priority,
    case when s.source = 'OFFICER_INITIATED' then 1.0 else 0.0 end as call_officer_initiated,
    case when s.source = 'CITIZEN_911' then 1.0 else 0.0 end as call_source_911,
    case when s.source = 'ALARM' then 1.0 else 0.0 end as call_source_alarm,
    cast(extract(hour from s.dispatched_at) as double precision) as call_hour,
    cast(extract(isodow from s.dispatched_at) as double precision) as call_weekday,
    case when extract(hour from s.dispatched_at) >= 22 or extract(hour from s.dispatched_at) < 6
         then 1.0 else 0.0 end as call_night,
    cast(greatest(coalesce(extract(epoch from s.dispatched_at - s.received_at) / 60.0, 0), 0) as double precision) as call_queue_min,
    cast(s.is_backup as double precision) as call_backup,
    cast(s.stress as double precision) as call_stress_type,
    -- known on arrival (exploratory model only)
    cast(extract(epoch from s.arrived_at - s.dispatched_at) / 60.0 as double precision) as arr_travel_min,
    case when s.arrived_at is not null then 1.0 else 0.0 end as arr_arrived,
    -- the officer's short-term stress at dispatched_at
    cast(extract(epoch from s.dispatched_at - s.session_start) / 3600.0 as double precision) as st_hours_on_duty,
    cast(s.n_before - s.n_before_session as double precision) as st_calls_in_shift,
    cast(s.stress_before - s.stress_before_session as double precision) as st_stress_calls_shift,
    cast(s.stress_7d as double precision) as st_stress_calls_7d,
    dd.consecutive_days as st_consecutive_days,
    -- the officer's history known before the dispatch day
    cast(s.dispatch_date - o.hire_date as double precision) / 365.25 as hist_tenure_years,
    h.bef_calls as hist_dispatches_all,
    h.y1_calls as hist_dispatches_1y,
    h.bef_arrests as hist_arrests_all,
    h.y1_arrests as hist_arrests_1y,
    h.bef_disc_arrests as hist_disc_arrests_all,
    h.y1_disc_arrests as hist_disc_arrests_1y,
    case when h.bef_calls > 0 then h.bef_arrests / h.bef_calls else 0 end as hist_arrest_rate_all,
    case when h.bef_calls > 0 then h.bef_disc_arrests / h.bef_calls else 0 end as hist_disc_arrest_rate_all,
    case when h.y1_calls > 0 then h.y1_arrests / h.y1_calls else 0 end as hist_arrest_rate_1y,
    case when h.y1_calls > 0 then h.y1_disc_arrests / h.y1_calls else 0 end as hist_disc_arrest_rate_1y,
    case when h.bef_arrests > 0 then h.bef_disc_arrests / h.bef_arrests else 0 end as hist_disc_share_all,
    cast(s.dispatch_date - h.bef_last_disc_day as double precision) as hist_days_since_disc_arrest,
    h.bef_ia_cases as hist_ia_cases_all,
    h.y1_ia_cases as hist_ia_cases_1y,
    h.y1_ia_complaints as hist_ia_complaints_1y,
    h.bef_ia_adverse as hist_ia_adverse_all,
    cast(s.dispatch_date - h.bef_last_adverse_incident as double precision) as hist_days_since_adverse,
    -- the beat's neighbourhood (latest year before the dispatch year; NULL when none)
    cast(n.population as double precision) as nbh_population,
    n.calls_311_per_1k as nbh_calls_311_per_1k,
    n.vacant_land_pct as nbh_vacant_land_pct,
    n.median_income as nbh_median_income,
    n.violent_crime_per_1k as nbh_violent_crime_per_1k,
    n.nuisance_violations_per_1k as nbh_nuisance_violations_per_1k,
    -- the label
    case when a.call_id is not null then 1 else 0 end as label
from shift s
join duty_days dd on dd.officer_id = s.officer_id and dd.day = s.dispatch_date
join {{ ref('dispatch_officer_days') }} h on h.officer_id = s.officer_id and h.day = s.dispatch_date
left join {{ ref('stg_officers') }} o on o.officer_id = s.officer_id
left join nbh_years n on n.beat = s.beat and n.year = cast(extract(year from s.dispatch_date) as bigint)
left join adverse a on a.call_id = s.call_id and a.officer_id = s.officer_id
