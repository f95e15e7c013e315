{#- One row per cohort member, as-of date D and label window W: label 1 when the officer has an
    adverse case (event type x disposition in var('eis')['adverse_events']) with incident_date in
    [D, D + W), else 0.  PENDING cases are not adverse (see pending_cases_by_as_of). -#}
{{ config(materialized='incremental', incremental_strategy='replace_as_of_dates', unique_key='as_of_date',
          on_schema_change='fail',
          indexes=[{'columns': ['officer_id', 'as_of_date'], 'unique': False}]) }}
{%- set lws = eis_cfg()['label_windows'] %}

with cohort as (
    select officer_id, as_of_date
    from {{ ref('officer_cohort') }}
    where {{ eis_in_as_of_dates('as_of_date') }}
),

label_windows as (
    {%- if lws | length == 0 %}
    select cast(null as text) as label_name, cast(null as text) as label_window where false
    {%- else %}
    select * from (values
        {%- for w in lws %}
        ('adverse_{{ w.name }}', '{{ w.interval }}'){{ ',' if not loop.last }}
        {%- endfor %}
    ) as v (label_name, label_window)
    {%- endif %}
),

adverse as (
    select officer_id, incident_date
    from {{ ref('stg_ia_cases') }}
    where {{ eis_is_adverse('event_type', 'disposition') }}
)

select
    c.officer_id,
    c.as_of_date,
    w.label_name,
    w.label_window,
    max(case when a.officer_id is not null then 1 else 0 end) as label
from cohort c
cross join label_windows w
left join adverse a
  on a.officer_id = c.officer_id
 and a.incident_date >= c.as_of_date
 and a.incident_date < cast(c.as_of_date + cast(w.label_window as interval) as date)
group by c.officer_id, c.as_of_date, w.label_name, w.label_window
