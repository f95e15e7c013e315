-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- Public quality-of-life data per beat and year.

with source as (

    select * from {{ source('raw', 'neighborhoods') }}

),

renamed as (

    select
        cast(beat as text) as beat,
        cast(division as text) as division,
        cast(year as bigint) as year,
        cast(population as bigint) as population,
        cast(calls_311_per_1k as double precision) as calls_311_per_1k,
        cast(vacant_land_pct as double precision) as vacant_land_pct,
        cast(median_income as double precision) as median_income,
        cast(violent_crime_per_1k as double precision) as violent_crime_per_1k,
        cast(nuisance_violations_per_1k as double precision) as nuisance_violations_per_1k,
        cast(avg_age_at_death as double precision) as avg_age_at_death,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
