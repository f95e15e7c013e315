-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- Every arrest made by an officer.

with source as (

    select * from {{ source('raw', 'arrests') }}

),

renamed as (

    select
        cast(arrest_id as text) as arrest_id,
        cast(officer_id as text) as officer_id,
        cast(arrested_at as timestamp) as arrested_at,
        cast(division as text) as division,
        cast(beat as text) as beat,
        cast(charge_category as text) as charge_category,
        cast(discretionary_only as boolean) as discretionary_only,
        cast(probable_cause as boolean) as probable_cause,
        cast(suspect_race as text) as suspect_race,
        cast(suspect_sex as text) as suspect_sex,
        cast(suspect_age as bigint) as suspect_age,
        cast(call_id as text) as call_id,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
