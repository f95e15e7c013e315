-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- Citations written by officers.

with source as (

    select * from {{ source('raw', 'citations') }}

),

renamed as (

    select
        cast(citation_id as text) as citation_id,
        cast(officer_id as text) as officer_id,
        cast(issued_at as timestamp) as issued_at,
        cast(division as text) as division,
        cast(citation_type as text) as citation_type,
        cast(electronic as boolean) as electronic,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
