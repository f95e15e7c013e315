{#- The cohort on each as-of date D of this run: sworn (if sworn_only), hired before D, not separated on
    D (separation_date null or after D), with an active assignment on D if require_active_assignment: one
    that started before D (start_date < D: a transfer dated D is not known before D) and has not ended
    (end_date null or >= D).  Several active assignments: the latest start_date wins.
    Incremental: a run replaces exactly the as-of dates in var('eis')['as_of_dates']. -#}
{{ config(materialized='incremental', incremental_strategy='replace_as_of_dates', unique_key='as_of_date',
          on_schema_change='fail',
          indexes=[{'columns': ['officer_id', 'as_of_date'], 'unique': True}, {'columns': ['as_of_date']}]) }}
{%- set cfg = eis_cfg() %}

with as_of_dates as (
    {{ eis_as_of_dates_sql() }}
),

active as (
    select
        d.as_of_date,
        a.officer_id,
        a.division,
        a.beat,
        a.unit,
        a.shift,
        a.start_date,
        row_number() over (partition by a.officer_id, d.as_of_date order by a.start_date desc) as rn
    from {{ ref('stg_assignments') }} a
    join as_of_dates d
      on a.start_date < d.as_of_date
     and (a.end_date is null or a.end_date >= d.as_of_date)
)

select
    o.officer_id,
    d.as_of_date,
    a.division,
    a.beat,
    a.unit,
    a.shift,
    a.start_date as assignment_start_date
from {{ ref('stg_officers') }} o
cross join as_of_dates d
left join active a
  on a.officer_id = o.officer_id and a.as_of_date = d.as_of_date and a.rn = 1
where o.hire_date < d.as_of_date
  and (o.separation_date is null or o.separation_date > d.as_of_date)
  {%- if cfg.sworn_only %}
  and o.sworn
  {%- endif %}
  {%- if cfg.require_active_assignment %}
  and a.officer_id is not null
  {%- endif %}
