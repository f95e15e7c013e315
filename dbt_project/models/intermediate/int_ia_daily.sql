{#- IA cases per officer and knowledge day, running totals.  A case counts from its reported_date
    (rep_*: by event type); its disposition counts from its closed_date (closed_*: by disposition,
    closed_adverse: adverse per var('eis')['adverse_events']).  PENDING cases have no closed row.
    last_adverse_incident: latest incident_date of an adverse case whose disposition is known.
    alg_<group>: cases reported whose allegation falls in a configured allegation group (alg_other: an
    allegation in no group); only when the config has allegation_groups. -#}
{{ config(materialized='table', enabled=eis_block_on('ia_history') or eis_block_on('legacy_rules'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook='analyze {{ this }}') }}
{%- set c = eis_codes() %}
{%- set groups = eis_cfg()['allegation_groups'] %}

with cases as (
    select * from {{ ref('stg_ia_cases') }}
),

events as (
    select
        officer_id,
        reported_date as day,
        1 as rep_total,
        {%- for t in c.event_type %}
        case when event_type = '{{ t }}' then 1 else 0 end as rep_{{ t | lower }},
        {%- endfor %}
        0 as closed_total,
        {%- for d in c.disposition_final %}
        0 as closed_{{ d | lower }},
        {%- endfor %}
        0 as closed_adverse,
        {%- for g in groups %}
        case when {{ eis_allegation_group(g) }} then 1 else 0 end as alg_{{ g }},
        {%- endfor %}
        {%- if groups %}
        case when allegation is not null and not ({{ eis_allegation_group(none) }}) then 1 else 0 end as alg_other,
        {%- endif %}
        cast(null as date) as last_adverse_incident
    from cases

    union all

    select
        officer_id,
        closed_date as day,
        0 as rep_total,
        {%- for t in c.event_type %}
        0 as rep_{{ t | lower }},
        {%- endfor %}
        1 as closed_total,
        {%- for d in c.disposition_final %}
        case when disposition = '{{ d }}' then 1 else 0 end as closed_{{ d | lower }},
        {%- endfor %}
        case when {{ eis_is_adverse('event_type', 'disposition') }} then 1 else 0 end as closed_adverse,
        {%- for g in groups.keys() | list + (['other'] if groups else []) %}
        0 as alg_{{ g }},
        {%- endfor %}
        case when {{ eis_is_adverse('event_type', 'disposition') }} then incident_date end as last_adverse_incident
    from cases
    where closed_date is not null and disposition <> 'PENDING'
)
{{ eis_cumulate('events', eis_source('ia').metrics) }}
