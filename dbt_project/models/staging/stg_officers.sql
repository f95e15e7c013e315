-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- One row per employee, ever.

with source as (

    select * from {{ source('raw', 'officers') }}

),

renamed as (

    select
        cast(officer_id as text) as officer_id,
        cast(hire_date as date) as hire_date,
        cast(separation_date as date) as separation_date,
        cast(birth_year as bigint) as birth_year,
        cast(sex as text) as sex,
        cast(race as text) as race,
        cast(education as text) as education,
        cast(height_cm as bigint) as height_cm,
        cast(weight_kg as bigint) as weight_kg,
        cast(rank as text) as rank,
        cast(sworn as boolean) as sworn,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
