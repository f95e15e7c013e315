-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- Which officers were sent to which call.

with source as (

    select * from {{ source('raw', 'dispatches') }}

),

renamed as (

    select
        cast(call_id as text) as call_id,
        cast(officer_id as text) as officer_id,
        cast(dispatched_at as timestamp) as dispatched_at,
        cast(arrived_at as timestamp) as arrived_at,
        cast(cleared_at as timestamp) as cleared_at,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
