{#- Protected attributes of the cohort, for bias audits only; NOT features unless
    var('eis')['protected_as_features'] is true (then officer_features also holds one-hot columns). -#}
{{ config(materialized='incremental', incremental_strategy='replace_as_of_dates', unique_key='as_of_date',
          on_schema_change='fail',
          indexes=[{'columns': ['officer_id', 'as_of_date'], 'unique': True}]) }}

select c.officer_id, c.as_of_date, o.race, o.sex
from {{ ref('officer_cohort') }} c
join {{ ref('stg_officers') }} o on o.officer_id = c.officer_id
where {{ eis_in_as_of_dates('c.as_of_date') }}
