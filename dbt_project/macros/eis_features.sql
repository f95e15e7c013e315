{#
    The feature catalogue: ONE Jinja list that generates both the columns of features.officer_features
    and the rows of features.feature_dictionary, so the two cannot drift apart.

    eis_features() returns a dict:
      features  list of {name, block, window, description, source_table, known_from, imputation, expr}
                (expr: SQL over the mart's `base` row `b` and per-date medians `m`)
      base      {column: SQL} computed in the mart's first stage (window sums from the running totals)
      lookbacks {source key: {lookback key: interval}}: the LATERAL lookups the mart needs
      medians   base columns whose per-as-of-date median imputes missing values
      sources   the event sources that are built (block on and source table not empty)
      blocks    one row per feature block: {block, status, reason, source_table}

    Windowed value of metric m over [D - interval, D):  cum(m, last day < D) - cum(m, last day < D - interval),
    where cum is the running total of the source's int_<key>_daily model (day = knowledge date).
#}

{% macro eis__wtext(interval) -%}
    {%- if interval is none -%}before D (all history){%- else -%}in [D - {{ interval }}, D){%- endif -%}
{%- endmacro %}


{# Register (once) the base column holding metric `metric` of source `src` summed over [D - interval, D). #}
{% macro eis__b(ctx, src, metric, interval) %}
    {%- set lb = 'all' if interval is none else (interval | replace(' ', '_')) -%}
    {%- set col = 'b_' ~ src ~ '_' ~ metric ~ '__' ~ lb -%}
    {%- if col not in ctx.base -%}
        {%- if interval is none -%}
            {%- do ctx.base.update({col: 'coalesce(u_' ~ src ~ '.' ~ metric ~ ', 0)'}) -%}
        {%- else -%}
            {%- do ctx.lookbacks[src].update({lb: interval}) -%}
            {%- do ctx.base.update({col: '(coalesce(u_' ~ src ~ '.' ~ metric ~ ', 0) - coalesce(l_' ~ src ~ '_' ~ lb ~ '.' ~ metric ~ ', 0))'}) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(col) }}
{% endmacro %}


{% macro eis__add(ctx, name, block, window, description, source_table, known_from, imputation, expr) %}
    {%- do ctx.features.append({'name': name, 'block': block, 'window': window, 'description': description,
                                'source_table': source_table, 'known_from': known_from,
                                'imputation': imputation, 'expr': expr}) -%}
{% endmacro %}


{# A windowed count feature: the window sum of one metric. #}
{% macro eis__count(ctx, s, name, metric, w, what) %}
    {%- set col = eis__b(ctx, s.key, metric, w.interval) -%}
    {%- do eis__add(ctx, name, s.block, w.name, what ~ ' ' ~ eis__wtext(w.interval), s.tables | join(', '),
                    s.known_from, 'none (0 when no events)', 'b.' ~ col) -%}
{% endmacro %}


{# A windowed ratio feature: sum(num) / sum(den) over the window, 0 when the denominator is 0. #}
{% macro eis__ratio(ctx, s, name, num, den, w, what) %}
    {%- set n = eis__b(ctx, s.key, num, w.interval) -%}
    {%- set d = eis__b(ctx, s.key, den, w.interval) -%}
    {%- do eis__add(ctx, name, s.block, w.name, what ~ ' ' ~ eis__wtext(w.interval), s.tables | join(', '),
                    s.known_from, '0 when the denominator is 0 (no events in the window)',
                    'coalesce(b.' ~ n ~ ' / nullif(b.' ~ d ~ ', 0), 0)') -%}
{% endmacro %}


{% macro eis_features() %}
    {%- set cfg = eis_cfg() -%}
    {%- set codes = eis_codes() -%}
    {%- set windows = cfg.windows -%}
    {%- set ctx = {'features': [], 'base': {}, 'lookbacks': {}, 'medians': [], 'sources': [], 'blocks': []} -%}

    {#- ---------------------------------------------------------------- which sources are built -#}
    {%- set present = {} -%}
    {%- for s in eis_sources() -%}
        {%- set on = eis_block_on(s.block) or (s.key == 'ia' and eis_block_on('legacy_rules'))
                     or (s.key == 'uof' and eis_block_on('legacy_rules') and cfg.legacy_rules | selectattr('source', 'equalto', 'use_of_force') | list) -%}
        {%- set empty = [] -%}
        {%- if on -%}
            {%- for t in s.tables if not eis_source_has_rows(t) %}{% do empty.append(t) %}{% endfor -%}
        {%- endif -%}
        {%- do present.update({s.key: on and empty | length == 0}) -%}
        {%- if on and empty | length == 0 -%}
            {%- do ctx.sources.append(s) -%}
            {%- do ctx.lookbacks.update({s.key: {}}) -%}
        {%- endif -%}
        {%- if eis_block_on(s.block) -%}
            {%- do ctx.blocks.append({'block': s.block, 'source_table': s.tables | join(', '),
                'status': 'built' if empty | length == 0 else 'skipped',
                'reason': 'source table has rows' if empty | length == 0 else 'skipped: raw.' ~ (empty | join(', raw.')) ~ ' is empty or absent from the drop'}) -%}
        {%- else -%}
            {%- do ctx.blocks.append({'block': s.block, 'source_table': s.tables | join(', '), 'status': 'disabled',
                'reason': 'disabled in the configuration (feature_blocks)'}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set nbh_rows = eis_block_on('neighborhood') and eis_source_has_rows('neighborhoods') -%}
    {%- set has_rank_history = eis_block_on('characteristics') and eis_source_has_rows('rank_history') -%}
    {%- do ctx.update({'rank_history': has_rank_history}) -%}
    {%- for blk, tbl in [('characteristics', 'officers, assignments'), ('neighborhood', 'neighborhoods'),
                         ('outliers', 'the windowed counts'), ('change', 'the windowed counts'),
                         ('legacy_rules', 'ia_cases')] -%}
        {%- if not eis_block_on(blk) -%}
            {%- do ctx.blocks.append({'block': blk, 'source_table': tbl, 'status': 'disabled',
                                      'reason': 'disabled in the configuration (feature_blocks)'}) -%}
        {%- elif blk == 'neighborhood' and not nbh_rows -%}
            {%- do ctx.blocks.append({'block': blk, 'source_table': tbl, 'status': 'skipped',
                                      'reason': 'skipped: raw.neighborhoods is empty or absent from the drop'}) -%}
        {%- elif blk == 'legacy_rules' and not present['ia'] -%}
            {%- do ctx.blocks.append({'block': blk, 'source_table': tbl, 'status': 'skipped',
                                      'reason': 'skipped: raw.ia_cases is empty'}) -%}
        {%- else -%}
            {%- do ctx.blocks.append({'block': blk, 'source_table': tbl, 'status': 'built', 'reason': ''}) -%}
        {%- endif -%}
    {%- endfor -%}

    {#- ---------------------------------------------------------------- IA history -#}
    {%- if present['ia'] and eis_block_on('ia_history') -%}
        {%- set s = eis_source('ia') -%}
        {#- contract v2 code NO_FINDING (closed without a finding on the merits): columns only when a case has it -#}
        {%- set has_no_finding = eis_source_has_value('ia_cases', 'disposition', 'NO_FINDING') -%}
        {%- for w in windows -%}
            {%- do eis__count(ctx, s, 'ia_cases_' ~ w.name, 'rep_total', w, 'IA cases reported') -%}
            {%- for t in codes.event_type -%}
                {%- do eis__count(ctx, s, 'ia_cases_' ~ t | lower ~ '_' ~ w.name, 'rep_' ~ t | lower, w, 'IA cases of type ' ~ t ~ ' reported') -%}
            {%- endfor -%}
            {%- do eis__count(ctx, s, 'ia_closed_' ~ w.name, 'closed_total', w, 'IA cases closed (disposition known)') -%}
            {%- for d in codes.disposition_final if d != 'NO_FINDING' or has_no_finding -%}
                {%- do eis__count(ctx, s, 'ia_closed_' ~ d | lower ~ '_' ~ w.name, 'closed_' ~ d | lower, w, 'IA cases closed with disposition ' ~ d) -%}
            {%- endfor -%}
            {%- do eis__count(ctx, s, 'ia_adverse_' ~ w.name, 'closed_adverse', w, 'adverse IA cases (adverse disposition known, closed)') -%}
            {%- for g in cfg.allegation_groups.keys() | list + (['other'] if cfg.allegation_groups else []) -%}
                {%- do eis__count(ctx, s, 'ia_alg_' ~ g ~ '_' ~ w.name, 'alg_' ~ g, w,
                                  'IA cases reported with an allegation in group ' ~ g ~ (' (in no configured group)' if g == 'other' else ' (allegation_groups)')) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- set rep = eis__b(ctx, 'ia', 'rep_total', none) -%}
        {%- set clo = eis__b(ctx, 'ia', 'closed_total', none) -%}
        {%- set sus = eis__b(ctx, 'ia', 'closed_sustained', none) -%}
        {%- set adv = eis__b(ctx, 'ia', 'closed_adverse', none) -%}
        {%- do eis__add(ctx, 'ia_pending_cases', s.block, none, 'IA cases reported before D and not closed before D (open on D)',
                        'ia_cases', s.known_from, 'none (0 when none)', 'b.' ~ rep ~ ' - b.' ~ clo) -%}
        {%- do eis__add(ctx, 'ia_share_sustained_all', s.block, 'all', 'share of IA cases closed before D that were SUSTAINED',
                        'ia_cases', s.known_from, '0 when no case was closed before D', 'coalesce(b.' ~ sus ~ ' / nullif(b.' ~ clo ~ ', 0), 0)') -%}
        {%- do eis__add(ctx, 'ia_share_adverse_all', s.block, 'all', 'share of IA cases closed before D that were adverse',
                        'ia_cases', s.known_from, '0 when no case was closed before D', 'coalesce(b.' ~ adv ~ ' / nullif(b.' ~ clo ~ ', 0), 0)') -%}
        {%- do ctx.base.update({'b_ia_last_adverse_incident': 'u_ia.last_adverse_incident'}) -%}
        {%- do eis__add(ctx, 'ia_days_since_adverse', s.block, none,
                        'days from the incident date of the latest adverse case known before D (closed_date < D) to D',
                        'ia_cases', s.known_from, 'no adverse case known: days since hire (D - hire_date); see ia_days_since_adverse_missing',
                        'coalesce(b.as_of_date - b.b_ia_last_adverse_incident, b.as_of_date - b.o_hire_date)') -%}
        {%- do eis__add(ctx, 'ia_days_since_adverse_missing', s.block, none, '1 when no adverse case was known before D (ia_days_since_adverse imputed)',
                        'ia_cases', s.known_from, 'none', 'case when b.b_ia_last_adverse_incident is null then 1 else 0 end') -%}
    {%- endif -%}

    {#- ---------------------------------------------------------------- use-of-force reports -#}
    {%- if present['uof'] and eis_block_on('use_of_force') -%}
        {%- set s = eis_source('uof') -%}
        {%- for w in windows -%}
            {%- do eis__count(ctx, s, 'uof_reports_' ~ w.name, 'total', w, 'use-of-force reports filed (by the day of the force)') -%}
            {%- for t in codes.force_type -%}
                {%- do eis__count(ctx, s, 'uof_' ~ t | lower ~ '_' ~ w.name, 'type_' ~ t | lower, w, 'use-of-force reports with force type ' ~ t) -%}
            {%- endfor -%}
            {%- do eis__count(ctx, s, 'uof_subject_injured_' ~ w.name, 'subject_injured', w, 'use-of-force reports with the subject injured') -%}
            {%- do eis__count(ctx, s, 'uof_officer_injured_' ~ w.name, 'officer_injured', w, 'use-of-force reports with the officer injured') -%}
            {%- do eis__count(ctx, s, 'uof_reviewed_' ~ w.name, 'reviewed', w, 'supervisor reviews of use-of-force reports (by reviewed_on)') -%}
            {%- do eis__count(ctx, s, 'uof_not_approved_' ~ w.name, 'not_approved', w, 'reviews that did not approve the force or referred it to IA (by reviewed_on)') -%}
        {%- endfor -%}
    {%- endif -%}

    {#- ---------------------------------------------------------------- dispatches -#}
    {%- if present['dsp'] -%}
        {%- set s = eis_source('dsp') -%}
        {%- for w in windows -%}
            {%- do eis__count(ctx, s, 'dsp_calls_' ~ w.name, 'calls', w, 'calls the officer was dispatched to') -%}
            {%- for band, rng in [('high', '1-3'), ('medium', '4-6'), ('low', '7-9')] -%}
                {%- do eis__count(ctx, s, 'dsp_calls_prio_' ~ band ~ '_' ~ w.name, 'prio_' ~ band, w, 'calls of priority ' ~ rng ~ ' (' ~ band ~ ')') -%}
            {%- endfor -%}
            {%- for g in eis_call_type_groups().keys() | list + ['other'] -%}
                {%- do eis__count(ctx, s, 'dsp_calls_grp_' ~ g ~ '_' ~ w.name, 'grp_' ~ g, w, 'calls in call-type group ' ~ g ~ ' (macro eis_call_type_groups)') -%}
            {%- endfor -%}
            {%- do eis__ratio(ctx, s, 'dsp_officer_initiated_share_' ~ w.name, 'officer_initiated', 'calls', w, 'share of calls with source OFFICER_INITIATED') -%}
            {%- do eis__ratio(ctx, s, 'dsp_night_share_' ~ w.name, 'night', 'calls', w, 'share of calls dispatched 22:00-06:00') -%}
            {%- do eis__count(ctx, s, 'dsp_stress_calls_' ~ w.name, 'stress', w, 'stress calls (suicide, domestic violence, a child involved: contract stress_call_types)') -%}
            {%- do eis__count(ctx, s, 'dsp_hours_on_calls_' ~ w.name, 'hours', w, 'hours on calls, cleared_at - coalesce(arrived_at, dispatched_at), by clearing day') -%}
            {%- set tm = eis__b(ctx, 'dsp', 'travel_min', w.interval) -%}
            {%- set ar = eis__b(ctx, 'dsp', 'arrived', w.interval) -%}
            {%- set raw = 'r_dsp_travel_min_mean_' ~ w.name -%}
            {%- do ctx.base.update({raw: ctx.base[tm] ~ ' / nullif(' ~ ctx.base[ar] ~ ', 0)'}) -%}
            {%- do ctx.medians.append(raw) -%}
            {%- do eis__add(ctx, 'dsp_travel_min_mean_' ~ w.name, s.block, w.name,
                            'mean travel minutes (arrived_at - dispatched_at) of arrivals ' ~ eis__wtext(w.interval),
                            'dispatches', 'arrived_at', 'no arrival in the window: median over the cohort on D (0 if none); see _missing',
                            'coalesce(b.' ~ raw ~ ', m.' ~ raw ~ ', 0)') -%}
            {%- do eis__add(ctx, 'dsp_travel_min_mean_' ~ w.name ~ '_missing', s.block, w.name,
                            '1 when no arrival ' ~ eis__wtext(w.interval) ~ ' (dsp_travel_min_mean_' ~ w.name ~ ' imputed)',
                            'dispatches', 'arrived_at', 'none', 'case when b.' ~ raw ~ ' is null then 1 else 0 end') -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if present['crs'] -%}
        {%- set s = eis_source('crs') -%}
        {%- for w in windows -%}
            {%- do eis__count(ctx, s, 'dsp_crime_reports_' ~ w.name, 'reports', w, 'crime reports the officer responded to') -%}
            {%- do eis__count(ctx, s, 'dsp_crime_stress_' ~ w.name, 'stress_any', w, 'crime reports responded to with any stress flag (child, gang, narcotics, domestic violence, suicide)') -%}
            {%- for f in ['child_involved', 'gang_related', 'narcotics', 'domestic_violence', 'suicide_related'] -%}
                {%- do eis__count(ctx, s, 'dsp_crime_' ~ f ~ '_' ~ w.name, f, w, 'crime reports responded to flagged ' ~ f) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}

    {#- ---------------------------------------------------------------- arrests, stops, FI, citations, ... -#}
    {%- if present['arr'] -%}
        {%- set s = eis_source('arr') -%}
        {%- for w in windows -%}
            {%- do eis__count(ctx, s, 'arr_total_' ~ w.name, 'total', w, 'arrests') -%}
            {%- do eis__count(ctx, s, 'arr_discretionary_' ~ w.name, 'discretionary', w, 'arrests on discretionary charges only') -%}
            {%- do eis__count(ctx, s, 'arr_no_probable_cause_' ~ w.name, 'no_probable_cause', w, 'arrests with probable_cause false or missing') -%}
            {%- for t in codes.charge_category -%}
                {%- do eis__count(ctx, s, 'arr_charge_' ~ t | lower ~ '_' ~ w.name, 'charge_' ~ t | lower, w, 'arrests with charge category ' ~ t) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if present['ts'] -%}
        {%- set s = eis_source('ts') -%}
        {%- for w in windows -%}
            {%- do eis__count(ctx, s, 'ts_stops_' ~ w.name, 'stops', w, 'traffic stops') -%}
            {%- do eis__count(ctx, s, 'ts_searches_' ~ w.name, 'searches', w, 'traffic stops with a search') -%}
            {%- do eis__ratio(ctx, s, 'ts_search_rate_' ~ w.name, 'searches', 'stops', w, 'share of traffic stops with a search') -%}
            {%- do eis__count(ctx, s, 'ts_contraband_hits_' ~ w.name, 'hits', w, 'searches that found contraband') -%}
            {%- do eis__ratio(ctx, s, 'ts_hit_rate_' ~ w.name, 'hits', 'searches', w, 'share of searches that found contraband') -%}
            {%- do eis__count(ctx, s, 'ts_arrests_' ~ w.name, 'arrests', w, 'traffic stops ending in arrest') -%}
            {%- do eis__count(ctx, s, 'ts_uof_' ~ w.name, 'uof', w, 'traffic stops with use of force') -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for key, pfx, what, codeset, cpfx in [('fi', 'fi', 'field interviews', 'fi_type', 'type_'),
                                               ('cit', 'cit', 'citations', 'citation_type', 'type_')] -%}
        {%- if present[key] -%}
            {%- set s = eis_source(key) -%}
            {%- for w in windows -%}
                {%- do eis__count(ctx, s, pfx ~ '_total_' ~ w.name, 'total', w, what) -%}
                {%- for t in codes[codeset] -%}
                    {%- do eis__count(ctx, s, pfx ~ '_' ~ t | lower ~ '_' ~ w.name, cpfx ~ t | lower, w, what ~ ' of type ' ~ t) -%}
                {%- endfor -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if present['sec'] -%}
        {%- set s = eis_source('sec') -%}
        {%- for w in windows -%}
            {%- do eis__count(ctx, s, 'sec_jobs_' ~ w.name, 'jobs', w, 'secondary employment jobs started') -%}
            {%- do eis__count(ctx, s, 'sec_hours_' ~ w.name, 'hours', w, 'secondary employment hours (jobs started)') -%}
            {%- do eis__count(ctx, s, 'sec_incidents_' ~ w.name, 'incidents', w, 'incidents at secondary employment jobs started') -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if present['trn'] -%}
        {%- set s = eis_source('trn') -%}
        {%- for w in windows -%}
            {%- do eis__count(ctx, s, 'trn_courses_' ~ w.name, 'courses', w, 'training courses completed') -%}
            {%- do eis__count(ctx, s, 'trn_hours_' ~ w.name, 'hours', w, 'training credit hours completed') -%}
            {%- for t in codes.training_topic -%}
                {%- do eis__count(ctx, s, 'trn_hours_' ~ t | lower ~ '_' ~ w.name, 'hours_' ~ t | lower, w, 'training credit hours on topic ' ~ t) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if present['flg'] -%}
        {%- set s = eis_source('flg') -%}
        {%- for w in windows -%}
            {%- do eis__count(ctx, s, 'flg_flags_' ~ w.name, 'flags', w, 'legacy EIS flags received') -%}
        {%- endfor -%}
    {%- endif -%}

    {#- ---------------------------------------------------------------- officer characteristics -#}
    {%- if eis_block_on('characteristics') -%}
        {%- set blk = 'characteristics' -%}
        {%- do eis__add(ctx, 'chr_age_years', blk, none, 'age: year(D) - birth_year', 'officers', 'static', 'none', 'extract(year from b.as_of_date) - b.o_birth_year') -%}
        {%- do eis__add(ctx, 'chr_tenure_days', blk, none, 'days since hire: D - hire_date', 'officers', 'static', 'none', 'b.as_of_date - b.o_hire_date') -%}
        {%- set unk = eis_unknown_code() -%}
        {%- for attr in ['rank', 'education'] -%}
            {%- set known = codes[attr] | reject('equalto', unk) | list -%}
            {%- set cases = [] -%}
            {%- for v in known %}{% do cases.append("when '" ~ v ~ "' then " ~ loop.index) %}{% endfor -%}
            {%- set pit = attr == 'rank' and has_rank_history -%}
            {%- set kf = 'rank_history: start_date < D' if pit else 'static (current value)' -%}
            {%- set what = attr ~ (' on D (rank_history)' if pit else '') ~ ' as an ordinal code: ' ~ known | join(' < ') ~ ' = 1..' ~ known | length -%}
            {%- if pit or eis_source_has_value('officers', attr, unk) -%}
                {#- contract v2: UNKNOWN (or no rank_history row before D) is missing: imputed, never a category -#}
                {%- set raw = 'r_chr_' ~ attr ~ '_ordinal' -%}
                {%- do ctx.base.update({raw: 'cast(case ' ~ ('rh.rank' if pit else 'o.' ~ attr) ~ ' ' ~ cases | join(' ') ~ ' end as double precision)'}) -%}
                {%- do ctx.medians.append(raw) -%}
                {%- do eis__add(ctx, 'chr_' ~ attr ~ '_ordinal', blk, none, what, 'rank_history' if pit else 'officers', kf,
                                'UNKNOWN or not known before D: median over the cohort on D; see _missing', 'coalesce(b.' ~ raw ~ ', m.' ~ raw ~ ', 0)') -%}
                {%- do eis__add(ctx, 'chr_' ~ attr ~ '_ordinal_missing', blk, none, '1 when ' ~ attr ~ ' is not known (chr_' ~ attr ~ '_ordinal imputed)',
                                'rank_history' if pit else 'officers', kf, 'none', 'case when b.' ~ raw ~ ' is null then 1 else 0 end') -%}
            {%- else -%}
                {%- do eis__add(ctx, 'chr_' ~ attr ~ '_ordinal', blk, none, what ~ ' (0 unknown)',
                                'officers', kf, 'none', 'case b.o_' ~ attr ~ ' ' ~ cases | join(' ') ~ ' else 0 end') -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for attr, unit in [('height', 'cm'), ('weight', 'kg')] -%}
            {%- set col = 'o_' ~ attr ~ '_' ~ unit -%}
            {%- do ctx.medians.append(col) -%}
            {%- do eis__add(ctx, 'chr_' ~ attr ~ '_' ~ unit, blk, none, attr ~ ' in ' ~ unit, 'officers', 'static',
                            'missing: median over the cohort on D; see _missing', 'coalesce(b.' ~ col ~ ', m.' ~ col ~ ', 0)') -%}
            {%- do eis__add(ctx, 'chr_' ~ attr ~ '_' ~ unit ~ '_missing', blk, none, '1 when ' ~ attr ~ ' is missing (imputed)', 'officers', 'static',
                            'none', 'case when b.' ~ col ~ ' is null then 1 else 0 end') -%}
        {%- endfor -%}
        {%- for v in codes.shift if v != unk -%}
            {%- do eis__add(ctx, 'chr_shift_' ~ v | lower, blk, none, '1 when the current assignment on D is on the ' ~ v ~ ' shift',
                            'assignments', 'start_date < D <= end_date', 'none (all 0 without an active assignment)',
                            "case when b.c_shift = '" ~ v ~ "' then 1 else 0 end") -%}
        {%- endfor -%}
        {%- do eis__add(ctx, 'chr_days_in_assignment', blk, none, 'days since the start of the current assignment: D - start_date',
                        'assignments', 'start_date < D <= end_date', '0 without an active assignment', 'coalesce(b.as_of_date - b.c_assignment_start_date, 0)') -%}
    {%- endif -%}

    {#- ---------------------------------------------------------------- neighborhood of the current beat -#}
    {%- if nbh_rows -%}
        {%- for col in ['population', 'calls_311_per_1k', 'vacant_land_pct', 'median_income', 'violent_crime_per_1k',
                        'nuisance_violations_per_1k', 'avg_age_at_death'] -%}
            {%- do ctx.medians.append('n_' ~ col) -%}
            {%- do eis__add(ctx, 'nbh_' ~ col, 'neighborhood', none,
                            col ~ ' of the current beat on D, from the latest neighborhoods year before year(D)',
                            'neighborhoods', 'year Y known from Jan 1 of Y + 1', 'missing: median over the cohort on D (0 if none); see _missing',
                            'coalesce(b.n_' ~ col ~ ', m.n_' ~ col ~ ', 0)') -%}
            {%- do eis__add(ctx, 'nbh_' ~ col ~ '_missing', 'neighborhood', none, '1 when nbh_' ~ col ~ ' is missing (imputed)',
                            'neighborhoods', 'year Y known from Jan 1 of Y + 1', 'none', 'case when b.n_' ~ col ~ ' is null then 1 else 0 end') -%}
        {%- endfor -%}
    {%- endif -%}

    {#- ---------------------------------------------------------------- outliers and change -#}
    {%- set main = [] -%}
    {%- for key, metric, label in [('dsp', 'calls', 'dsp_calls'), ('arr', 'total', 'arr_total'), ('ts', 'stops', 'ts_stops'),
                                   ('ts', 'uof', 'ts_uof'), ('ia', 'rep_total', 'ia_cases'), ('uof', 'total', 'uof_reports')] -%}
        {%- if present[key] and (key != 'uof' or eis_block_on('use_of_force')) %}{% do main.append((key, metric, label)) %}{% endif -%}
    {%- endfor -%}
    {%- if eis_block_on('outliers') -%}
        {%- for key, metric, label in main -%}
            {%- set s = eis_source(key) -%}
            {%- for w in windows -%}
                {%- set x = 'b.' ~ eis__b(ctx, key, metric, w.interval) -%}
                {%- for g, gcol, gtext in [('div', 'division', 'division'), ('beat', 'beat', 'beat')] -%}
                    {%- set p = '(partition by b.as_of_date, b.c_' ~ gcol ~ ')' -%}
                    {%- do eis__add(ctx, 'out_' ~ label ~ '_' ~ g ~ '_ratio_' ~ w.name, 'outliers', w.name,
                                    label ~ ' ' ~ eis__wtext(w.interval) ~ ' / mean of the cohort in the same ' ~ gtext ~ ' on D',
                                    s.tables | join(', '), s.known_from, '0 when the group mean is 0',
                                    'coalesce(' ~ x ~ ' / nullif(avg(' ~ x ~ ') over ' ~ p ~ ', 0), 0)') -%}
                    {%- do eis__add(ctx, 'out_' ~ label ~ '_' ~ g ~ '_z_' ~ w.name, 'outliers', w.name,
                                    label ~ ' ' ~ eis__wtext(w.interval) ~ ' as a z-score within the cohort in the same ' ~ gtext ~ ' on D (population sd)',
                                    s.tables | join(', '), s.known_from, '0 when the group sd is 0',
                                    'coalesce((' ~ x ~ ' - avg(' ~ x ~ ') over ' ~ p ~ ') / nullif(stddev_pop(' ~ x ~ ') over ' ~ p ~ ', 0), 0)') -%}
                {%- endfor -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if eis_block_on('change') -%}
        {%- for key, metric, label in main -%}
            {%- set s = eis_source(key) -%}
            {%- set r = 'b.' ~ eis__b(ctx, key, metric, '6 months') -%}
            {%- set y = 'b.' ~ eis__b(ctx, key, metric, '12 months') -%}
            {%- do eis__add(ctx, 'chg_' ~ label ~ '_6m_diff', 'change', '6m',
                            label ~ ' in [D - 6 months, D) minus ' ~ label ~ ' in [D - 12 months, D - 6 months)',
                            s.tables | join(', '), s.known_from, 'none', r ~ ' - (' ~ y ~ ' - ' ~ r ~ ')') -%}
            {%- do eis__add(ctx, 'chg_' ~ label ~ '_6m_ratio', 'change', '6m',
                            '(' ~ label ~ ' in [D - 6 months, D) + 1) / (' ~ label ~ ' in [D - 12 months, D - 6 months) + 1)',
                            s.tables | join(', '), s.known_from, 'none (+1 smoothing)', '(' ~ r ~ ' + 1) / (' ~ y ~ ' - ' ~ r ~ ' + 1)') -%}
        {%- endfor -%}
    {%- endif -%}

    {#- ---------------------------------------------------------------- legacy threshold rules -#}
    {%- if eis_block_on('legacy_rules') and present['ia'] -%}
        {%- set s = eis_source('ia') -%}
        {%- for rule in cfg.legacy_rules -%}
            {%- set parts = [] -%}
            {%- set uof = rule.get('source', 'ia_cases') == 'use_of_force' -%}
            {%- if uof and not present['uof'] -%}
                {%- set cnt = '0' -%}
            {%- elif uof -%}
                {%- for t in (rule.event_types or [none]) -%}
                    {%- do parts.append('b.' ~ eis__b(ctx, 'uof', 'total' if t is none else 'type_' ~ t | lower, rule.interval)) -%}
                {%- endfor -%}
                {%- set cnt = '(' ~ parts | join(' + ') ~ ')' -%}
            {%- else -%}
                {%- for t in rule.event_types %}{% do parts.append('b.' ~ eis__b(ctx, 'ia', 'rep_' ~ t | lower, rule.interval)) %}{% endfor -%}
                {%- set cnt = '(' ~ (parts | join(' + ') if parts else '0') ~ ')' -%}
            {%- endif -%}
            {%- set wname = 'all' if rule.interval is none else rule.interval -%}
            {%- set what = ('use-of-force reports' ~ (' of force type ' ~ rule.event_types | join('/') if rule.event_types else '') ~ ' filed ')
                           if uof else ('IA cases of type ' ~ rule.event_types | join('/') ~ ' reported ') -%}
            {%- set tbl, kf = ('use_of_force', 'occurred_at') if uof else ('ia_cases', 'reported_date') -%}
            {%- do eis__add(ctx, 'leg_' ~ rule.name ~ '_cases', 'legacy_rules', wname,
                            what ~ eis__wtext(rule.interval) ~ ' (legacy rule ' ~ rule.name ~ ')',
                            tbl, kf, 'none', cnt) -%}
            {%- do eis__add(ctx, 'leg_' ~ rule.name ~ '_flag', 'legacy_rules', wname,
                            '1 when leg_' ~ rule.name ~ '_cases >= ' ~ rule.count ~ ' (the legacy threshold rule fires)',
                            tbl, kf, 'none', 'case when ' ~ cnt ~ ' >= ' ~ rule.count ~ ' then 1 else 0 end') -%}
        {%- endfor -%}
    {%- endif -%}

    {#- ---------------------------------------------------------------- protected attributes (opt-in) -#}
    {%- if cfg.protected_as_features -%}
        {%- for attr in ['race', 'sex'] -%}
            {%- for v in codes[attr] -%}
                {%- do eis__add(ctx, 'prot_' ~ attr ~ '_' ~ v | lower, 'protected', none, '1 when ' ~ attr ~ ' is ' ~ v ~ ' (protected attribute, opt-in)',
                                'officers', 'static', 'none', "case when b.o_" ~ attr ~ " = '" ~ v ~ "' then 1 else 0 end") -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}

    {#- ---------------------------------------------------------------- names: unique and <= 63 characters -#}
    {%- set seen = {} -%}
    {%- for f in ctx.features -%}
        {%- if f.name | length > 63 -%}
            {{ exceptions.raise_compiler_error("feature column name longer than 63 characters: " ~ f.name) }}
        {%- endif -%}
        {%- if f.name in seen -%}
            {{ exceptions.raise_compiler_error("duplicate feature column name: " ~ f.name) }}
        {%- endif -%}
        {%- do seen.update({f.name: 1}) -%}
    {%- endfor -%}
    {%- for col in ctx.base.keys() if col | length > 63 -%}
        {{ exceptions.raise_compiler_error("internal column name longer than 63 characters: " ~ col) }}
    {%- endfor -%}
    {{ return(ctx) }}
{% endmacro %}
