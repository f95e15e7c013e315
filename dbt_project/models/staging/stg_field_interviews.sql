-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- Pedestrian stops, frisks, knock-and-talks, raids and searches.

with source as (

    select * from {{ source('raw', 'field_interviews') }}

),

renamed as (

    select
        cast(fi_id as text) as fi_id,
        cast(officer_id as text) as officer_id,
        cast(occurred_at as timestamp) as occurred_at,
        cast(division as text) as division,
        cast(beat as text) as beat,
        cast(fi_type as text) as fi_type,
        cast(person_race as text) as person_race,
        cast(person_sex as text) as person_sex,
        cast(person_age as bigint) as person_age,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
