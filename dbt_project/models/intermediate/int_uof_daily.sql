{#- Use-of-force reports per officer and knowledge day, running totals.  A report counts from the day it
    happened (occurred_at: the officer files it for that event) by force type and injuries; its
    supervisor review counts from reviewed_on (reviewed; not_approved: NOT_APPROVED or REFERRED_TO_IA),
    never earlier.  A review is a supervisor's, not an Internal Affairs finding. -#}
{{ config(materialized='table', enabled=eis_block_on('use_of_force') or eis_block_on('legacy_rules'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook='analyze {{ this }}') }}
{%- set c = eis_codes() %}

with reports as (
    select * from {{ ref('stg_use_of_force') }}
),

events as (
    select
        officer_id,
        cast(occurred_at as date) as day,
        1 as total,
        {%- for t in c.force_type %}
        case when force_type = '{{ t }}' then 1 else 0 end as type_{{ t | lower }},
        {%- endfor %}
        case when subject_injured then 1 else 0 end as subject_injured,
        case when officer_injured then 1 else 0 end as officer_injured,
        0 as reviewed,
        0 as not_approved
    from reports

    union all

    select
        officer_id,
        reviewed_on as day,
        0 as total,
        {%- for t in c.force_type %}
        0 as type_{{ t | lower }},
        {%- endfor %}
        0 as subject_injured,
        0 as officer_injured,
        1 as reviewed,
        case when review_outcome in ('NOT_APPROVED', 'REFERRED_TO_IA') then 1 else 0 end as not_approved
    from reports
    where reviewed_on is not null
)
{{ eis_cumulate('events', eis_source('uof').metrics) }}
