-- Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand.
-- Off-duty jobs for external contractors and what happened at them.

with source as (

    select * from {{ source('raw', 'secondary_employment') }}

),

renamed as (

    select
        cast(job_id as text) as job_id,
        cast(officer_id as text) as officer_id,
        cast(start_at as timestamp) as start_at,
        cast(hours as double precision) as hours,
        cast(employer_type as text) as employer_type,
        cast(incident_count as bigint) as incident_count,
        cast(_load_id as bigint) as load_id,
        cast(_row_number as bigint) as source_row
    from source

)

select * from renamed
