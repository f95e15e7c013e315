{#- Training per officer and completed_on, running totals: courses, credit hours, hours by topic. -#}
{{ config(materialized='incremental', incremental_strategy='eis_running_totals', on_schema_change='sync_all_columns', enabled=eis_block_on('training'),
          indexes=[{'columns': ['officer_id', 'day'], 'unique': True}],
          post_hook=['analyze {{ this }}', '{{ eis_incr_mark() }}']) }}

with events as (
    select
        officer_id,
        load_id,
        completed_on as day,
        1 as courses,
        credit_hours as hours,
        {%- for t in eis_codes().training_topic %}
        case when topic = '{{ t }}' then credit_hours else 0 end as hours_{{ t | lower }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_training') }}
)
{{ eis_cumulate('events', eis_source('trn').metrics, eis_incr_since()) }}
