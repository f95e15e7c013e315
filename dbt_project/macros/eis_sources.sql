{#
    The event sources of the windowed features: one intermediate model each (models/intermediate/
    int_<key>_daily.sql) with running per-officer totals by knowledge day.  `metrics` are the columns of
    that model (apart from officer_id, day); the daily models and the feature mart are generated from
    this list, so they cannot drift apart.
#}
{% macro eis_sources() %}
    {%- set c = eis_codes() -%}
    {%- set ia_metrics = [{'name': 'rep_total'}] -%}
    {%- for t in c.event_type %}{% do ia_metrics.append({'name': 'rep_' ~ t | lower}) %}{% endfor -%}
    {%- do ia_metrics.append({'name': 'closed_total'}) -%}
    {%- for d in c.disposition_final %}{% do ia_metrics.append({'name': 'closed_' ~ d | lower}) %}{% endfor -%}
    {%- do ia_metrics.append({'name': 'closed_adverse'}) -%}
    {%- for g in eis_cfg()['allegation_groups'].keys() | list + ['other'] if eis_cfg()['allegation_groups'] %}{% do ia_metrics.append({'name': 'alg_' ~ g}) %}{% endfor -%}
    {%- do ia_metrics.append({'name': 'last_adverse_incident', 'agg': 'max'}) -%}

    {%- set dsp_metrics = [] -%}
    {%- for m in ['calls', 'prio_high', 'prio_medium', 'prio_low', 'prio_unknown'] %}{% do dsp_metrics.append({'name': m}) %}{% endfor -%}
    {%- for g in eis_call_type_groups().keys() | list + ['other'] %}{% do dsp_metrics.append({'name': 'grp_' ~ g}) %}{% endfor -%}
    {%- for m in ['officer_initiated', 'night', 'stress', 'hours', 'travel_min', 'arrived'] %}{% do dsp_metrics.append({'name': m}) %}{% endfor -%}

    {%- set crs_metrics = [{'name': 'reports'}, {'name': 'stress_any'}] -%}
    {%- for f in ['child_involved', 'gang_related', 'narcotics', 'domestic_violence', 'suicide_related'] %}{% do crs_metrics.append({'name': f}) %}{% endfor -%}

    {%- set arr_metrics = [{'name': 'total'}, {'name': 'discretionary'}, {'name': 'no_probable_cause'}] -%}
    {%- for t in c.charge_category %}{% do arr_metrics.append({'name': 'charge_' ~ t | lower}) %}{% endfor -%}

    {%- set ts_metrics = [{'name': 'stops'}, {'name': 'searches'}, {'name': 'hits'}, {'name': 'arrests'}, {'name': 'uof'}] -%}

    {%- set fi_metrics = [{'name': 'total'}] -%}
    {%- for t in c.fi_type %}{% do fi_metrics.append({'name': 'type_' ~ t | lower}) %}{% endfor -%}

    {%- set cit_metrics = [{'name': 'total'}] -%}
    {%- for t in c.citation_type %}{% do cit_metrics.append({'name': 'type_' ~ t | lower}) %}{% endfor -%}

    {%- set sec_metrics = [{'name': 'jobs'}, {'name': 'hours'}, {'name': 'incidents'}] -%}

    {%- set trn_metrics = [{'name': 'courses'}, {'name': 'hours'}] -%}
    {%- for t in c.training_topic %}{% do trn_metrics.append({'name': 'hours_' ~ t | lower}) %}{% endfor -%}

    {%- set flg_metrics = [{'name': 'flags'}] -%}

    {%- set uof_metrics = [{'name': 'total'}] -%}
    {%- for t in c.force_type %}{% do uof_metrics.append({'name': 'type_' ~ t | lower}) %}{% endfor -%}
    {%- for m in ['subject_injured', 'officer_injured', 'reviewed', 'not_approved'] %}{% do uof_metrics.append({'name': m}) %}{% endfor -%}

    {{ return([
        {'key': 'ia', 'block': 'ia_history', 'model': 'int_ia_daily', 'tables': ['ia_cases'],
         'known_from': 'case: reported_date; disposition: closed_date', 'metrics': ia_metrics},
        {'key': 'uof', 'block': 'use_of_force', 'model': 'int_uof_daily', 'tables': ['use_of_force'],
         'known_from': 'report: occurred_at; review: reviewed_on', 'metrics': uof_metrics},
        {'key': 'dsp', 'block': 'dispatches', 'model': 'int_dsp_daily', 'tables': ['dispatches'],
         'known_from': 'dispatched_at (travel time: arrived_at; hours: cleared_at)', 'metrics': dsp_metrics},
        {'key': 'crs', 'block': 'dispatches', 'model': 'int_crs_daily', 'tables': ['crime_reports'],
         'known_from': 'reported_at', 'metrics': crs_metrics},
        {'key': 'arr', 'block': 'arrests', 'model': 'int_arr_daily', 'tables': ['arrests'],
         'known_from': 'arrested_at', 'metrics': arr_metrics},
        {'key': 'ts', 'block': 'traffic_stops', 'model': 'int_ts_daily', 'tables': ['traffic_stops'],
         'known_from': 'stopped_at', 'metrics': ts_metrics},
        {'key': 'fi', 'block': 'field_interviews', 'model': 'int_fi_daily', 'tables': ['field_interviews'],
         'known_from': 'occurred_at', 'metrics': fi_metrics},
        {'key': 'cit', 'block': 'citations', 'model': 'int_cit_daily', 'tables': ['citations'],
         'known_from': 'issued_at', 'metrics': cit_metrics},
        {'key': 'sec', 'block': 'secondary_employment', 'model': 'int_sec_daily', 'tables': ['secondary_employment'],
         'known_from': 'start_at', 'metrics': sec_metrics},
        {'key': 'trn', 'block': 'training', 'model': 'int_trn_daily', 'tables': ['training'],
         'known_from': 'completed_on', 'metrics': trn_metrics},
        {'key': 'flg', 'block': 'eis_flags', 'model': 'int_flg_daily', 'tables': ['eis_flags'],
         'known_from': 'flagged_on', 'metrics': flg_metrics},
    ]) }}
{% endmacro %}


{% macro eis_source(key) %}
    {%- for s in eis_sources() if s.key == key -%}{{ return(s) }}{%- endfor -%}
    {{ exceptions.raise_compiler_error("unknown EIS source " ~ key) }}
{% endmacro %}
