{#- Training per officer and completed_on, running totals: courses, credit hours, hours by topic. -#}
{{ config(materialized='table', enabled=eis_block_on('training'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook='analyze {{ this }}') }}

with events as (
    select
        officer_id,
        completed_on as day,
        1 as courses,
        credit_hours as hours,
        {%- for t in eis_codes().training_topic %}
        case when topic = '{{ t }}' then credit_hours else 0 end as hours_{{ t | lower }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_training') }}
)
{{ eis_cumulate('events', eis_source('trn').metrics) }}
