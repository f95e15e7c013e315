-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- The department's existing threshold EIS flags.

with source as (

    select * from {{ source('raw', 'eis_flags') }}

),

renamed as (

    select
        cast(flag_id as text) as flag_id,
        cast(officer_id as text) as officer_id,
        cast(flagged_on as date) as flagged_on,
        cast(rule as text) as rule,
        cast(intervention as text) as intervention,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
