-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- Criminal complaints filed by the public; also the data for crime-severity prediction.

with source as (

    select * from {{ source('raw', 'crime_reports') }}

),

renamed as (

    select
        cast(report_id as text) as report_id,
        cast(officer_id as text) as officer_id,
        cast(reported_at as timestamp) as reported_at,
        cast(occurred_at as timestamp) as occurred_at,
        cast(division as text) as division,
        cast(beat as text) as beat,
        cast(offense_category as text) as offense_category,
        cast(weapon as text) as weapon,
        cast(victim_count as bigint) as victim_count,
        cast(gang_related as boolean) as gang_related,
        cast(domestic_violence as boolean) as domestic_violence,
        cast(narcotics as boolean) as narcotics,
        cast(hate_crime as boolean) as hate_crime,
        cast(child_involved as boolean) as child_involved,
        cast(suicide_related as boolean) as suicide_related,
        cast(severity as text) as severity,
        cast(cleared_at as timestamp) as cleared_at,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
