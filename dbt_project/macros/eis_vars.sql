{#
    Access to the EIS configuration passed as `--vars '{"eis": {...}}'` (see eis_core.config.dbt_vars)
    and small helpers shared by the intermediate, feature and label models.
#}

{# The var('eis') dict with defaults, so `dbt parse` without vars still works (no as-of dates). #}
{% macro eis_cfg() %}
    {%- set v = var('eis', {}) or {} -%}
    {%- set blocks = v.get('blocks', {}) or {} -%}
    {{ return({
        'as_of_dates': v.get('as_of_dates', []) or [],
        'windows': v.get('windows', []) or [],
        'blocks': blocks,
        'protected_as_features': v.get('protected_as_features', false),
        'sworn_only': v.get('sworn_only', true),
        'require_active_assignment': v.get('require_active_assignment', true),
        'legacy_rules': v.get('legacy_rules', []) or [],
        'adverse_events': v.get('adverse_events', {}) or {},
        'label_windows': v.get('label_windows', []) or [],
        'allegation_groups': v.get('allegation_groups', {}) or {},
    }) }}
{% endmacro %}


{# Is feature block `name` switched on? Blocks missing from the var default to on. #}
{% macro eis_block_on(name) %}
    {{ return(eis_cfg()['blocks'].get(name, true) in [true, 'true', 'True', 1]) }}
{% endmacro %}


{# The run's as-of dates as a one-column relation (as_of_date date); empty when none are given. #}
{% macro eis_as_of_dates_sql() %}
    {%- set dates = eis_cfg()['as_of_dates'] -%}
    {%- if dates | length == 0 -%}
    select cast(null as date) as as_of_date where false
    {%- else -%}
    select cast(d as date) as as_of_date
    from unnest(array[{% for d in dates %}'{{ d }}'{{ ',' if not loop.last }}{% endfor %}]::date[]) as d
    {%- endif -%}
{% endmacro %}


{# `expr in (<as-of dates of this run>)`; false when the run has none. #}
{% macro eis_in_as_of_dates(expr) %}
    {%- set dates = eis_cfg()['as_of_dates'] -%}
    {%- if dates | length == 0 -%}false{%- else -%}
    {{ expr }} in ({% for d in dates %}date '{{ d }}'{{ ', ' if not loop.last }}{% endfor %})
    {%- endif -%}
{% endmacro %}


{# SQL boolean: the (event_type, disposition) pair is adverse per var('eis')['adverse_events']. #}
{% macro eis_is_adverse(event_type_col, disposition_col) %}
    {%- set pairs = [] -%}
    {%- for ev, disps in eis_cfg()['adverse_events'].items() -%}
        {%- for d in disps -%}{%- do pairs.append("('" ~ ev ~ "', '" ~ d ~ "')") -%}{%- endfor -%}
    {%- endfor -%}
    {%- if pairs | length == 0 -%}false{%- else -%}
    (({{ event_type_col }}, {{ disposition_col }}) in ({{ pairs | join(', ') }}))
    {%- endif -%}
{% endmacro %}


{# eis_codes() and eis_stress_call_types() are generated from the contract: macros/eis_contract.sql. #}


{#
    The ONE place that maps a dispatch call_type (an open code) to a call-type group.
    Groups: violent (violence / disturbance), property, traffic, officer (officer-initiated or
    officer-reported type codes), other (everything else, including unknown codes and NULL).
#}
{% macro eis_call_type_groups() %}
    {{ return({
        'violent': ['ASSAULT', 'DOMESTIC', 'DISTURBANCE', 'ROBBERY', 'SHOTS-FIRED', 'SUICIDE', 'CHILD-ABUSE',
                    'FIGHT', 'WEAPON', 'HOMICIDE', 'SEX-OFFENSE', 'KIDNAPPING', 'NOISE'],
        'property': ['THEFT', 'BURGLARY', 'ALARM', 'VANDALISM', 'LARCENY', 'VEHICLE-THEFT', 'FRAUD'],
        'traffic': ['TRAFFIC', 'TRAFFIC-STOP', 'ACCIDENT', 'DUI', 'HIT-RUN'],
        'officer': ['REPT-OFC', 'OFC-INVL', 'SUSP-SCN', 'JST-OCC'],
    }) }}
{% endmacro %}

{# A parenthesised SQL list of text literals: ('A', 'B'). #}
{% macro eis_sql_in_list(values) -%}
    ({% for t in values %}'{{ t }}'{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}

{% macro eis_call_type_group(call_type_col) %}
    case
    {%- for grp, types in eis_call_type_groups().items() %}
        when {{ call_type_col }} in ({% for t in types %}'{{ t }}'{{ ', ' if not loop.last }}{% endfor %}) then '{{ grp }}'
    {%- endfor %}
        else 'other'
    end
{% endmacro %}

{#
    SQL boolean: ia_cases.allegation falls in allegation group `group` of var('eis')['allegation_groups']
    (a group lists allegation prefixes, matched case-insensitively); group none = in any group.
#}
{% macro eis_allegation_group(group) %}
    {%- set groups = eis_cfg()['allegation_groups'] -%}
    {%- set prefixes = [] -%}
    {%- for g, pfx in groups.items() if group is none or g == group -%}
        {%- for p in pfx %}{% do prefixes.append(p) %}{% endfor -%}
    {%- endfor -%}
    {%- if prefixes | length == 0 -%}false{%- else -%}
    ({% for p in prefixes %}upper(allegation) like {{ eis_sql_literal(p | upper | replace('%', '') ~ '%') }}{{ ' or ' if not loop.last }}{% endfor %})
    {%- endif -%}
{% endmacro %}


{#
    Values that mean "the department does not know" (contract v2): features treat them as missing
    (imputed, with a _missing indicator when the drop holds any), never as a category.
#}
{% macro eis_unknown_code() %}{{ return('UNKNOWN') }}{% endmacro %}


{# Does raw.<table> hold a row with <column> = <value>?  At parse time the answer is no. #}
{% macro eis_source_has_value(table, column, value) %}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set res = run_query("select exists (select 1 from " ~ source('raw', table) ~ " where " ~ adapter.quote(column)
                            ~ " = " ~ eis_sql_literal(value) ~ ")") -%}
    {{ return(res.columns[0].values()[0] in [true, 'True', 't', 1]) }}
{% endmacro %}


{# Does raw.<table> hold at least one row?  At parse time (no database) the answer is yes. #}
{% macro eis_source_has_rows(table) %}
    {%- if not execute -%}{{ return(true) }}{%- endif -%}
    {%- set res = run_query("select exists (select 1 from " ~ source('raw', table) ~ ")") -%}
    {{ return(res.columns[0].values()[0] in [true, 'True', 't', 1]) }}
{% endmacro %}


{#
    Custom incremental strategy "replace_as_of_dates": delete every row whose as_of_date is one of this
    run's as-of dates, then insert the new rows.  Unlike delete+insert on a key, a date whose cohort
    shrank (or became empty) loses its stale rows too.  Other as-of dates are untouched.
#}
{% macro get_incremental_replace_as_of_dates_sql(arg_dict) %}
    {%- set dest_cols_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }}
    where {{ eis_in_as_of_dates('as_of_date') }};

    insert into {{ arg_dict['target_relation'] }} ({{ dest_cols_csv }})
    select {{ dest_cols_csv }} from {{ arg_dict['temp_relation'] }}
{% endmacro %}


{#
    Per-officer, per-day rollup of an event relation with running totals: one row per (officer_id, day)
    holding, for every metric, the cumulative value over all days <= day (sum or max).  Feature windows
    are differences of two such rows (see eis_features).  `metrics`: list of {'name', 'agg'} with agg
    'sum' (default) or 'max'.
#}
{% macro eis_cumulate(events, metrics) %}
, daily as (
    select officer_id, day
    {%- for m in metrics %},
        {{ m.get('agg', 'sum') }}({{ m.name }}) as {{ m.name }}
    {%- endfor %}
    from {{ events }}
    where officer_id is not null and day is not null
    group by officer_id, day
)
select officer_id, day
{%- for m in metrics %},
    {% if m.get('agg', 'sum') == 'sum' -%}
    cast(sum({{ m.name }}) over w as double precision) as {{ m.name }}
    {%- else -%}
    {{ m.agg }}({{ m.name }}) over w as {{ m.name }}
    {%- endif %}
{%- endfor %}
from daily
window w as (partition by officer_id order by day rows between unbounded preceding and current row)
{% endmacro %}


{# A text SQL literal (NULL for none), quotes doubled. #}
{% macro eis_sql_literal(v) -%}
    {%- if v is none -%}cast(null as text){%- else -%}'{{ v | string | replace("'", "''") }}'{%- endif -%}
{%- endmacro %}
