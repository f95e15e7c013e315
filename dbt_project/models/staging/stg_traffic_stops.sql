-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- Every traffic stop an officer conducted.

with source as (

    select * from {{ source('raw', 'traffic_stops') }}

),

renamed as (

    select
        cast(stop_id as text) as stop_id,
        cast(officer_id as text) as officer_id,
        cast(stopped_at as timestamp) as stopped_at,
        cast(division as text) as division,
        cast(beat as text) as beat,
        cast(reason as text) as reason,
        cast(outcome as text) as outcome,
        cast(searched as boolean) as searched,
        cast(contraband_found as boolean) as contraband_found,
        cast(use_of_force as boolean) as use_of_force,
        cast(driver_race as text) as driver_race,
        cast(driver_sex as text) as driver_sex,
        cast(driver_age as bigint) as driver_age,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
