{#- ONE row per (officer_id, as_of_date) of the cohort: every feature column of eis_features(), wide,
    numeric, non-null.  All as-of dates of the run in one set-based statement:
      base  the cohort row, the officer's static attributes and, per event source, LATERAL index
            lookups into int_<key>_daily (running totals by officer and knowledge day): the row of the
            last day < D (u_<key>) and of the last day < D - interval for each window (l_<key>_<interval>);
            a window sum is the difference of the two running totals;
      med   per-as-of-date medians used to impute missing values;
      final the feature expressions (ratios, imputation, outliers via window functions over the cohort).
    Incremental (strategy replace_as_of_dates): a run replaces exactly the as-of dates in
    var('eis')['as_of_dates'].  The column set depends only on the configuration (never on which tables
    the drop provides); a change of it (blocks, windows) is a full refresh (eis_core.features.marts, which
    passes the configuration's shape hash as var('eis_shape'); the post-hook keeps it as the table's comment). -#}
{{ config(materialized='incremental', incremental_strategy='replace_as_of_dates', unique_key='as_of_date',
          on_schema_change='fail',
          indexes=[{'columns': ['officer_id', 'as_of_date'], 'unique': True}, {'columns': ['as_of_date']}],
          post_hook="comment on table {{ this }} is '{{ var('eis_shape', '') }}'") }}
{%- set F = eis_features() %}
{%- set nbh = eis_block_on('neighborhood') %}
{%- set chr = eis_block_on('characteristics') %}

with cohort as (
    select *
    from {{ ref('officer_cohort') }}
    where {{ eis_in_as_of_dates('as_of_date') }}
),

base as (
    select
        c.officer_id,
        c.as_of_date,
        c.division as c_division,
        c.beat as c_beat,
        c.shift as c_shift,
        c.assignment_start_date as c_assignment_start_date,
        o.birth_year as o_birth_year,
        o.hire_date as o_hire_date,
        o.rank as o_rank,
        o.education as o_education,
        cast(o.height_cm as double precision) as o_height_cm,
        cast(o.weight_kg as double precision) as o_weight_kg,
        o.race as o_race,
        o.sex as o_sex
        {%- if nbh %}
        {%- for col in eis_neighborhood_columns() %},
        cast(nb.{{ col }} as double precision) as n_{{ col }}
        {%- endfor %}
        {%- endif %}
        {%- for col, sql in F.base.items() %},
        {{ sql }} as {{ col }}
        {%- endfor %}
    from cohort c
    join {{ ref('stg_officers') }} o on o.officer_id = c.officer_id
    {%- for s in F.sources %}
    left join lateral (
        select * from {{ ref(s.model) }} x
        where x.officer_id = c.officer_id and x.day < c.as_of_date
        order by x.day desc limit 1
    ) u_{{ s.key }} on true
    {%- for lb, interval in F.lookbacks[s.key].items() %}
    left join lateral (
        select * from {{ ref(s.model) }} x
        where x.officer_id = c.officer_id and x.day < cast(c.as_of_date - interval '{{ interval }}' as date)
        order by x.day desc limit 1
    ) l_{{ s.key }}_{{ lb }} on true
    {%- endfor %}
    {%- endfor %}
    {%- if chr %}
    {#- rank on D from rank_history when the drop provides it (a run-time choice: the columns stay the same) #}
    cross join (select exists (select 1 from {{ ref('stg_rank_history') }}) as provided) rhp  -- noqa: ST05, LT01, LT06
    left join lateral (
        select r.rank from {{ ref('stg_rank_history') }} r
        where r.officer_id = c.officer_id and r.start_date < c.as_of_date
        order by r.start_date desc limit 1
    ) rh on true
    {%- endif %}
    {%- if nbh %}
    left join lateral (
        select n.* from {{ ref('stg_neighborhoods') }} n
        where n.beat = c.beat and n.year < extract(year from c.as_of_date)
        order by n.year desc limit 1
    ) nb on true
    {%- endif %}
),

med as (
    select
        as_of_date
        {%- for col in F.medians %},
        percentile_cont(0.5) within group (order by {{ col }}) as {{ col }}
        {%- endfor %}
    from base
    group by as_of_date
)

select
    b.officer_id,
    b.as_of_date
    {%- for f in F.features %},
    cast({{ f.expr }} as double precision) as {{ f.name }}
    {%- endfor %}
from base b
left join med m on m.as_of_date = b.as_of_date
