-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- Internal Affairs records; the source of adverse-event labels.

with source as (

    select * from {{ source('raw', 'ia_cases') }}

),

renamed as (

    select
        cast(case_id as text) as case_id,
        cast(officer_id as text) as officer_id,
        cast(event_type as text) as event_type,
        cast(incident_date as date) as incident_date,
        cast(reported_date as date) as reported_date,
        cast(closed_date as date) as closed_date,
        cast(disposition as text) as disposition,
        cast(call_id as text) as call_id,
        cast(intervention as text) as intervention,
        cast(allegation as text) as allegation,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
