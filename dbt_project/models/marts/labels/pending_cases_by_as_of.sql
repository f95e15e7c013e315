{#- Per as-of date D and label window W: IA cases of cohort members (on D) with incident_date in
    [D, D + W) that are still PENDING in the drop, and how many officers have one.  Their labels count
    them as not adverse; a large number means the labels of D are not final yet. -#}
{{ config(materialized='incremental', incremental_strategy='replace_as_of_dates', unique_key='as_of_date',
          on_schema_change='fail') }}
{%- set lws = eis_cfg()['label_windows'] %}

with dates as (
    {{ eis_as_of_dates_sql() }}
),

label_windows as (
    {%- if lws | length == 0 %}
    select cast(null as text) as label_window where false
    {%- else %}
    select * from (values
        {%- for w in lws %}
        ('{{ w.interval }}'){{ ',' if not loop.last }}
        {%- endfor %}
    ) as v (label_window)
    {%- endif %}
),

pending as (
    select c.as_of_date, w.label_window, p.case_id, p.officer_id
    from {{ ref('officer_cohort') }} c
    cross join label_windows w
    join {{ ref('stg_ia_cases') }} p
      on p.officer_id = c.officer_id
     and p.disposition = 'PENDING'
     and p.incident_date >= c.as_of_date
     and p.incident_date < cast(c.as_of_date + cast(w.label_window as interval) as date)
    where {{ eis_in_as_of_dates('c.as_of_date') }}
)

select
    d.as_of_date,
    w.label_window,
    count(p.case_id) as pending_cases,
    count(distinct p.officer_id) as officers_with_pending
from dates d
cross join label_windows w
left join pending p on p.as_of_date = d.as_of_date and p.label_window = w.label_window
group by d.as_of_date, w.label_window
