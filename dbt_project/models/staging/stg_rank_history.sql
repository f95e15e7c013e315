-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- Point-in-time rank; a row holds from its start_date until the officer's next row.

with source as (

    select * from {{ source('raw', 'rank_history') }}

),

renamed as (

    select
        cast(officer_id as text) as officer_id,
        cast(start_date as date) as start_date,
        cast(rank as text) as rank,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
