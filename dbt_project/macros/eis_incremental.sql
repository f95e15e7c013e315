{#
    Incremental running totals (issue 19.2).  The int_<src>_daily models (and int_dsp_day) are incremental
    models with the strategy "eis_running_totals".  What a run does to each of them is decided in Python,
    before dbt, from the loader's bookkeeping (eis_core.features.incremental) and passed as

        var('eis_incr') = {'load': <raw load id of this build>, 'writes': <last raw.table_writes seq>,
                           'models': {'<model>': {'mode': 'append', 'since': <load id>} | {'mode': 'full', ...}}}

    * mode 'append' (every source table of the model was only appended to since load `since`, the load the
      model was last built through): the run recomputes, for each officer with a new row (_load_id > since),
      the rows from that officer's first affected knowledge day onward, carrying the running totals of the
      day before from the model's own table; the strategy deletes those (officer, day >= first day) rows and
      inserts the recomputed ones.  Nothing else is read or written.
    * anything else (a source table replaced since, no recorded build, no var): the run recomputes
      everything; the strategy truncates the table and inserts it all.  `--full-refresh` (and a change of the
      feature shape) rebuilds the table as a new relation instead.

    The post-hook eis_incr_mark() records the load id and the raw.table_writes position the model is now
    built through as the table's comment (in the model's transaction), so the next build knows where to start.
#}

{# The load id a run of this model appends from (the load it was last built through), or none: recompute all. #}
{% macro eis_incr_since(name=none) %}
    {%- if not is_incremental() -%}{{ return(none) }}{%- endif -%}
    {%- set m = ((var('eis_incr', {}) or {}).get('models', {}) or {}).get(name or this.identifier, {}) or {} -%}
    {%- if m.get('mode') == 'append' and m.get('since') is not none -%}{{ return(m['since'] | int) }}{%- endif -%}
    {{ return(none) }}
{% endmacro %}


{# Post-hook: "eis running totals through load <id>" as the table's comment (read by eis_core.features.incremental). #}
{% macro eis_incr_mark() %}
    {%- set v = var('eis_incr', {}) or {} -%}
    {%- set lid, seq = v.get('load'), v.get('writes') -%}
    comment on table {{ this }} is 'eis running totals through load {{ lid if lid is not none else "unknown" }} write {{ seq if seq is not none else "unknown" }}'
{% endmacro %}


{% macro get_incremental_eis_running_totals_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set tmp = arg_dict['temp_relation'] -%}
    {%- set cols = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- if eis_incr_since(target.identifier) is none %}
    truncate {{ target }};
    {%- else %}
    delete from {{ target }} t
    using (select officer_id, min(day) as from_day from {{ tmp }} group by officer_id) a
    where t.officer_id = a.officer_id and t.day >= a.from_day;
    {%- endif %}

    insert into {{ target }} ({{ cols }})
    select {{ cols }} from {{ tmp }}
{% endmacro %}


{#
    The running totals of eis_cumulate on an append run: `affected` (officer_id, from_day) -- by default the
    officers of the events with load_id > since and their first knowledge day -- then, per affected officer,
    the per-day sums of every event on or after from_day (old and new rows), preceded by the officer's last
    row before from_day (its running totals: the carry), summed in day order.  The fold is the full build's
    fold from that row on, so the totals are the same numbers (tests/test_incremental_load.py compares
    checksums against a full rebuild).
#}
{% macro eis_cumulate_append(events, metrics, since, affected=none) %}
, affected as (
    {%- if affected %}
    {{ affected }}
    {%- else %}
    select officer_id, min(day) as from_day
    from {{ events }}
    where load_id > {{ since }} and officer_id is not null and day is not null
    group by officer_id
    {%- endif %}
),
daily as (
    select e.officer_id, e.day
    {%- for m in metrics %},
        {{ m.get('agg', 'sum') }}(e.{{ m.name }}) as {{ m.name }}
    {%- endfor %}
    from {{ events }} e
    join affected a on a.officer_id = e.officer_id and e.day >= a.from_day
    group by e.officer_id, e.day
),
carried as (
    select officer_id, day{% for m in metrics %}, {{ m.name }}{% endfor %}, false as carry from daily
    union all
    select p.officer_id, p.day{% for m in metrics %}, p.{{ m.name }}{% endfor %}, true as carry
    from affected a
    cross join lateral (
        select * from {{ this }} x where x.officer_id = a.officer_id and x.day < a.from_day
        order by x.day desc limit 1
    ) p
),
totals as (
    select officer_id, day, carry
    {%- for m in metrics %},
        {% if m.get('agg', 'sum') == 'sum' -%}
        cast(sum({{ m.name }}) over w as double precision) as {{ m.name }}
        {%- else -%}
        {{ m.agg }}({{ m.name }}) over w as {{ m.name }}
        {%- endif %}
    {%- endfor %}
    from carried
    window w as (partition by officer_id order by day rows between unbounded preceding and current row)
)
select officer_id, day{% for m in metrics %}, {{ m.name }}{% endfor %}
from totals
where not carry
{% endmacro %}


{#- The officers whose dispatch days change on an append run since load `since`, with their first affected
    day: a new dispatch (_load_id > since), or a dispatch of a new call (its priority, type and source come
    from the call); a dispatch counts from its dispatch day on (its arrival and clearing are not earlier). -#}
{% macro eis_dsp_affected(since) %}
    select d.officer_id, min(cast(d.dispatched_at as date)) as from_day
    from {{ ref('stg_dispatches') }} d
    where d.officer_id is not null and d.dispatched_at is not null
      and (d.load_id > {{ since }}
           or d.call_id in (select c.call_id from {{ ref('stg_calls_for_service') }} c where c.load_id > {{ since }}))
    group by d.officer_id
{% endmacro %}
