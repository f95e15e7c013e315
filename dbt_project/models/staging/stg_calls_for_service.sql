-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- One row per call / dispatch event.

with source as (

    select * from {{ source('raw', 'calls_for_service') }}

),

renamed as (

    select
        cast(call_id as text) as call_id,
        cast(received_at as timestamp) as received_at,
        cast(call_type as text) as call_type,
        cast(priority as bigint) as priority,
        cast(source as text) as source,
        cast(division as text) as division,
        cast(beat as text) as beat,
        cast(lat as double precision) as lat,
        cast(lon as double precision) as lon,
        cast(disposition as text) as disposition,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
