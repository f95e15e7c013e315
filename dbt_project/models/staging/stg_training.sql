-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- Training events completed by officers.

with source as (

    select * from {{ source('raw', 'training') }}

),

renamed as (

    select
        cast(training_id as text) as training_id,
        cast(officer_id as text) as officer_id,
        cast(completed_on as date) as completed_on,
        cast(course as text) as course,
        cast(topic as text) as topic,
        cast(credit_hours as double precision) as credit_hours,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
