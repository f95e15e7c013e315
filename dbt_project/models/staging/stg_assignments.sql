-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- History of where an officer works; at most one open row per officer at a time.

with source as (

    select * from {{ source('raw', 'assignments') }}

),

renamed as (

    select
        cast(officer_id as text) as officer_id,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        cast(division as text) as division,
        cast(beat as text) as beat,
        cast(unit as text) as unit,
        cast(shift as text) as shift,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
