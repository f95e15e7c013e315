-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- Use-of-force reports, one row per officer per report (filed by the officer, reviewed by a supervisor).

with source as (

    select * from {{ source('raw', 'use_of_force') }}

),

renamed as (

    select
        cast(report_id as text) as report_id,
        cast(officer_id as text) as officer_id,
        cast(occurred_at as timestamp) as occurred_at,
        cast(force_type as text) as force_type,
        cast(subject_injured as boolean) as subject_injured,
        cast(officer_injured as boolean) as officer_injured,
        cast(reviewed_on as date) as reviewed_on,
        cast(review_outcome as text) as review_outcome,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
