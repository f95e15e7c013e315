{#- Officer history per officer and knowledge day (issue 9, the dispatch-level model).

    One row per officer and day on which something about the officer became known: a dispatch (day of
    dispatched_at), an arrest (day of arrested_at), an IA case (its reported_date) or an IA disposition
    (its closed_date).  For every metric the row holds the running total THROUGH the day (cum_*) and
    BEFORE the day (bef_*: days strictly earlier), the day's own counts (calls, arrests, ...), plus 365-day sums of the days strictly before
    (y1_*: [day - 365, day - 1]) and the latest discretionary-arrest day / adverse incident date known
    before the day.  The dispatch dataset joins a dispatch to the row of its own day (bef_* / y1_*);
    eis_core.dispatch.suggest sums the day counts of the rows strictly before a date.
    Set-based: one group-by and window functions over (officer_id, day); no per-date query. -#}
{{ config(materialized='table', tags=['dispatch'],
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook='analyze {{ this }}') }}

with events as (
    select officer_id, cast(dispatched_at as date) as day,
           1 as calls, 0 as arrests, 0 as disc_arrests, cast(null as date) as disc_day,
           0 as ia_cases, 0 as ia_complaints, 0 as ia_adverse, cast(null as date) as adverse_incident
    from {{ ref('stg_dispatches') }}

    union all

    select officer_id, cast(arrested_at as date),
           0, 1, case when discretionary_only then 1 else 0 end,
           case when discretionary_only then cast(arrested_at as date) end,
           0, 0, 0, null
    from {{ ref('stg_arrests') }}

    union all

    select officer_id, reported_date,
           0, 0, 0, null,
           1, case when event_type in ('CITIZEN_COMPLAINT', 'OFFICER_COMPLAINT') then 1 else 0 end, 0, null
    from {{ ref('stg_ia_cases') }}

    union all

    -- the disposition is known from closed_date; PENDING cases have none
    select officer_id, closed_date,
           0, 0, 0, null,
           0, 0, case when {{ eis_is_adverse('event_type', 'disposition') }} then 1 else 0 end,
           case when {{ eis_is_adverse('event_type', 'disposition') }} then incident_date end
    from {{ ref('stg_ia_cases') }}
    where closed_date is not null and disposition <> 'PENDING'
),

daily as (
    select officer_id, day,
           sum(calls) as calls, sum(arrests) as arrests, sum(disc_arrests) as disc_arrests,
           max(disc_day) as disc_day, sum(ia_cases) as ia_cases, sum(ia_complaints) as ia_complaints,
           sum(ia_adverse) as ia_adverse, max(adverse_incident) as adverse_incident,
           day - date '2000-01-01' as day_no
    from events
    where officer_id is not null and day is not null
    group by officer_id, day
),

running as (
    select officer_id, day, calls, arrests, disc_arrests, disc_day, ia_cases, ia_complaints, ia_adverse,
           adverse_incident,
    {%- for m in ['calls', 'arrests', 'disc_arrests', 'ia_cases', 'ia_complaints', 'ia_adverse'] %}
        cast(sum({{ m }}) over w_cum as double precision) as cum_{{ m }},
        cast(sum({{ m }}) over w_cum - {{ m }} as double precision) as bef_{{ m }},
        cast(coalesce(sum({{ m }}) over w_1y, 0) as double precision) as y1_{{ m }},
    {%- endfor %}
        max(disc_day) over w_cum as cum_last_disc_day,
        max(disc_day) over w_bef as bef_last_disc_day,
        max(adverse_incident) over w_cum as cum_last_adverse_incident,
        max(adverse_incident) over w_bef as bef_last_adverse_incident
    from daily
    window w_cum as (partition by officer_id order by day rows between unbounded preceding and current row),
           w_bef as (partition by officer_id order by day rows between unbounded preceding and 1 preceding),
           w_1y as (partition by officer_id order by day_no range between 365 preceding and 1 preceding)
)

select * from running
