{#
    The feature catalogue: ONE Jinja list that generates both the columns of features.officer_features
    and the rows of features.feature_dictionary, so the two cannot drift apart.

    eis_features() returns a dict:
      features  list of {name, block, window, description, source_table, known_from, imputation, expr}
                (expr: SQL over the mart's `base` row `b` and per-date medians `m`)
      base      {column: SQL} computed in the mart's first stage (window sums from the running totals)
      lookbacks {source key: {lookback key: interval}}: the LATERAL lookups the mart needs
      medians   base columns whose per-as-of-date median imputes missing values
      sources   the event sources whose running totals the mart reads (block named on in the config)
      blocks    one entry per feature block: {block, tables, on}; features.feature_blocks turns it into
                a status at run time (built / not_provided / disabled)

    The column set depends ONLY on the configuration (var('eis')), never on the data: a block the config
    names has its columns whether or not the drop provides its table (issue 20).  When the table has no
    row, counts and sums are 0 and means / attributes are NULL, imputed, with their `_missing` indicator
    set (docs/features.md, "A table the drop does not provide").  One macro per block kind below
    (eis__block_*); eis_features() only calls them in order and checks the names.

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


{# ============================================================================ one macro per block kind #}

{# IA history: cases reported by event type, closed by disposition, adverse, allegation groups, pending. #}
{% macro eis__block_ia(ctx, cfg, codes, windows) %}
    {%- set s = eis_source('ia') -%}
    {%- for w in windows -%}
        {%- do eis__count(ctx, s, 'ia_cases_' ~ w.name, 'rep_total', w, 'IA cases reported') -%}
        {%- for t in codes.event_type -%}
            {%- do eis__count(ctx, s, 'ia_cases_' ~ t | lower ~ '_' ~ w.name, 'rep_' ~ t | lower, w, 'IA cases of type ' ~ t ~ ' reported') -%}
        {%- endfor -%}
        {%- do eis__count(ctx, s, 'ia_closed_' ~ w.name, 'closed_total', w, 'IA cases closed (disposition known)') -%}
        {%- for d in codes.disposition_final -%}
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
{% endmacro %}


{# Use-of-force reports (by the day of the force) and their reviews (by reviewed_on). #}
{% macro eis__block_uof(ctx, cfg, codes, windows) %}
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
{% endmacro %}


{# Dispatches: calls by priority band and call-type group, shares, stress calls, hours, travel time (a mean: NULL-imputed). #}
{% macro eis__block_dsp(ctx, cfg, codes, windows) %}
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
{% endmacro %}


{# Crime reports the officer responded to (part of the dispatches block). #}
{% macro eis__block_crs(ctx, cfg, codes, windows) %}
    {%- set s = eis_source('crs') -%}
    {%- for w in windows -%}
        {%- do eis__count(ctx, s, 'dsp_crime_reports_' ~ w.name, 'reports', w, 'crime reports the officer responded to') -%}
        {%- do eis__count(ctx, s, 'dsp_crime_stress_' ~ w.name, 'stress_any', w, 'crime reports responded to with any stress flag (child, gang, narcotics, domestic violence, suicide)') -%}
        {%- for f in ['child_involved', 'gang_related', 'narcotics', 'domestic_violence', 'suicide_related'] -%}
            {%- do eis__count(ctx, s, 'dsp_crime_' ~ f ~ '_' ~ w.name, f, w, 'crime reports responded to flagged ' ~ f) -%}
        {%- endfor -%}
    {%- endfor -%}
{% endmacro %}


{# Arrests: total, discretionary, without probable cause, by charge category. #}
{% macro eis__block_arr(ctx, cfg, codes, windows) %}
    {%- set s = eis_source('arr') -%}
    {%- for w in windows -%}
        {%- do eis__count(ctx, s, 'arr_total_' ~ w.name, 'total', w, 'arrests') -%}
        {%- do eis__count(ctx, s, 'arr_discretionary_' ~ w.name, 'discretionary', w, 'arrests on discretionary charges only') -%}
        {%- do eis__count(ctx, s, 'arr_no_probable_cause_' ~ w.name, 'no_probable_cause', w, 'arrests with probable_cause false or missing') -%}
        {%- for t in codes.charge_category -%}
            {%- do eis__count(ctx, s, 'arr_charge_' ~ t | lower ~ '_' ~ w.name, 'charge_' ~ t | lower, w, 'arrests with charge category ' ~ t) -%}
        {%- endfor -%}
    {%- endfor -%}
{% endmacro %}


{# Traffic stops: stops, searches, hits and their rates, arrests, force. #}
{% macro eis__block_ts(ctx, cfg, codes, windows) %}
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
{% endmacro %}


{# A total and one count per code of a code set: field interviews (fi_type), citations (citation_type). #}
{% macro eis__block_by_type(ctx, cfg, codes, windows, key, what, codeset) %}
    {%- set s = eis_source(key) -%}
    {%- for w in windows -%}
        {%- do eis__count(ctx, s, key ~ '_total_' ~ w.name, 'total', w, what) -%}
        {%- for t in codes[codeset] -%}
            {%- do eis__count(ctx, s, key ~ '_' ~ t | lower ~ '_' ~ w.name, 'type_' ~ t | lower, w, what ~ ' of type ' ~ t) -%}
        {%- endfor -%}
    {%- endfor -%}
{% endmacro %}


{# Secondary employment: jobs, hours and incidents of jobs started. #}
{% macro eis__block_sec(ctx, cfg, codes, windows) %}
    {%- set s = eis_source('sec') -%}
    {%- for w in windows -%}
        {%- do eis__count(ctx, s, 'sec_jobs_' ~ w.name, 'jobs', w, 'secondary employment jobs started') -%}
        {%- do eis__count(ctx, s, 'sec_hours_' ~ w.name, 'hours', w, 'secondary employment hours (jobs started)') -%}
        {%- do eis__count(ctx, s, 'sec_incidents_' ~ w.name, 'incidents', w, 'incidents at secondary employment jobs started') -%}
    {%- endfor -%}
{% endmacro %}


{# Training: courses, credit hours, hours by topic. #}
{% macro eis__block_trn(ctx, cfg, codes, windows) %}
    {%- set s = eis_source('trn') -%}
    {%- for w in windows -%}
        {%- do eis__count(ctx, s, 'trn_courses_' ~ w.name, 'courses', w, 'training courses completed') -%}
        {%- do eis__count(ctx, s, 'trn_hours_' ~ w.name, 'hours', w, 'training credit hours completed') -%}
        {%- for t in codes.training_topic -%}
            {%- do eis__count(ctx, s, 'trn_hours_' ~ t | lower ~ '_' ~ w.name, 'hours_' ~ t | lower, w, 'training credit hours on topic ' ~ t) -%}
        {%- endfor -%}
    {%- endfor -%}
{% endmacro %}


{# Flags of the department's legacy EIS. #}
{% macro eis__block_flg(ctx, cfg, codes, windows) %}
    {%- set s = eis_source('flg') -%}
    {%- for w in windows -%}
        {%- do eis__count(ctx, s, 'flg_flags_' ~ w.name, 'flags', w, 'legacy EIS flags received') -%}
    {%- endfor -%}
{% endmacro %}


{#
    Officer characteristics.  Ordinals of rank and education: UNKNOWN (contract v2) or no rank known before
    D is missing, imputed with the cohort median and flagged in a _missing column - always, whether or
    not the drop holds an UNKNOWN.  Rank on D comes from rank_history when the drop provides it (decided
    in SQL at run time by the mart, so the column set does not change), else from officers.rank.
#}
{% macro eis__block_characteristics(ctx, cfg, codes, windows) %}
    {%- set blk = 'characteristics' -%}
    {%- do eis__add(ctx, 'chr_age_years', blk, none, 'age: year(D) - birth_year', 'officers', 'static', 'none', 'extract(year from b.as_of_date) - b.o_birth_year') -%}
    {%- do eis__add(ctx, 'chr_tenure_days', blk, none, 'days since hire: D - hire_date', 'officers', 'static', 'none', 'b.as_of_date - b.o_hire_date') -%}
    {%- set unk = eis_unknown_code() -%}
    {%- for attr in ['rank', 'education'] -%}
        {%- set known = codes[attr] | reject('equalto', unk) | list -%}
        {%- set cases = [] -%}
        {%- for v in known %}{% do cases.append("when '" ~ v ~ "' then " ~ loop.index) %}{% endfor -%}
        {%- set rank = attr == 'rank' -%}
        {%- set src = 'rank_history, officers' if rank else 'officers' -%}
        {%- set kf = 'rank_history: start_date < D (without rank_history rows in the drop: officers.rank, current value)' if rank else 'static (current value)' -%}
        {%- set what = attr ~ (' on D' if rank else '') ~ ' as an ordinal code: ' ~ known | join(' < ') ~ ' = 1..' ~ known | length -%}
        {#- rhp.provided, rh.rank, o.*: the mart's base stage (officer_features.sql) -#}
        {%- set value = '(case when rhp.provided then rh.rank else o.rank end)' if rank else 'o.' ~ attr -%}
        {%- set raw = 'r_chr_' ~ attr ~ '_ordinal' -%}
        {%- do ctx.base.update({raw: 'cast(case ' ~ value ~ ' ' ~ cases | join(' ') ~ ' end as double precision)'}) -%}
        {%- do ctx.medians.append(raw) -%}
        {%- do eis__add(ctx, 'chr_' ~ attr ~ '_ordinal', blk, none, what, src, kf,
                        'UNKNOWN or not known before D: median over the cohort on D; see _missing', 'coalesce(b.' ~ raw ~ ', m.' ~ raw ~ ', 0)') -%}
        {%- do eis__add(ctx, 'chr_' ~ attr ~ '_ordinal_missing', blk, none, '1 when ' ~ attr ~ ' is not known (chr_' ~ attr ~ '_ordinal imputed)',
                        src, kf, 'none', 'case when b.' ~ raw ~ ' is null then 1 else 0 end') -%}
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
{% endmacro %}


{# Neighborhood of the current beat: attributes, NULL-imputed (median) with a _missing indicator each. #}
{% macro eis__block_neighborhood(ctx, cfg, codes, windows) %}
    {%- for col in eis_neighborhood_columns() -%}
        {%- do ctx.medians.append('n_' ~ col) -%}
        {%- do eis__add(ctx, 'nbh_' ~ col, 'neighborhood', none,
                        col ~ ' of the current beat on D, from the latest neighborhoods year before year(D)',
                        'neighborhoods', 'year Y known from Jan 1 of Y + 1', 'missing: median over the cohort on D (0 if none); see _missing',
                        'coalesce(b.n_' ~ col ~ ', m.n_' ~ col ~ ', 0)') -%}
        {%- do eis__add(ctx, 'nbh_' ~ col ~ '_missing', 'neighborhood', none, '1 when nbh_' ~ col ~ ' is missing (imputed)',
                        'neighborhoods', 'year Y known from Jan 1 of Y + 1', 'none', 'case when b.n_' ~ col ~ ' is null then 1 else 0 end') -%}
    {%- endfor -%}
{% endmacro %}

{% macro eis_neighborhood_columns() %}
    {{ return(['population', 'calls_311_per_1k', 'vacant_land_pct', 'median_income', 'violent_crime_per_1k',
               'nuisance_violations_per_1k', 'avg_age_at_death']) }}
{% endmacro %}


{# The main counts that outliers and change compare: those of the blocks the config names. #}
{% macro eis__main_counts(ctx) %}
    {%- set main = [] -%}
    {%- for key, metric, label in [('dsp', 'calls', 'dsp_calls'), ('arr', 'total', 'arr_total'), ('ts', 'stops', 'ts_stops'),
                                   ('ts', 'uof', 'ts_uof'), ('ia', 'rep_total', 'ia_cases'), ('uof', 'total', 'uof_reports')] -%}
        {%- if eis_block_on(eis_source(key).block) %}{% do main.append((key, metric, label)) %}{% endif -%}
    {%- endfor -%}
    {{ return(main) }}
{% endmacro %}


{# Outliers: a main count as a ratio to and a z-score within the cohort of the same division / beat on D. #}
{% macro eis__block_outliers(ctx, cfg, codes, windows) %}
    {%- for key, metric, label in eis__main_counts(ctx) -%}
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
{% endmacro %}


{# Change: a main count in the last 6 months against the 6 months before. #}
{% macro eis__block_change(ctx, cfg, codes, windows) %}
    {%- for key, metric, label in eis__main_counts(ctx) -%}
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
{% endmacro %}


{# Legacy threshold rules: the rule's count over its window and whether it fires. #}
{% macro eis__block_legacy(ctx, cfg, codes, windows) %}
    {%- for rule in cfg.legacy_rules -%}
        {%- set parts = [] -%}
        {%- set uof = rule.get('source', 'ia_cases') == 'use_of_force' -%}
        {%- if uof -%}
            {%- for t in (rule.event_types or [none]) -%}
                {%- do parts.append('b.' ~ eis__b(ctx, 'uof', 'total' if t is none else 'type_' ~ t | lower, rule.interval)) -%}
            {%- endfor -%}
        {%- else -%}
            {%- for t in rule.event_types %}{% do parts.append('b.' ~ eis__b(ctx, 'ia', 'rep_' ~ t | lower, rule.interval)) %}{% endfor -%}
        {%- endif -%}
        {%- set cnt = '(' ~ (parts | join(' + ') if parts else '0') ~ ')' -%}
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
{% endmacro %}


{# Protected attributes as one-hot features (opt-in: protected_attributes_as_features). #}
{% macro eis__block_protected(ctx, cfg, codes, windows) %}
    {%- for attr in ['race', 'sex'] -%}
        {%- for v in codes[attr] -%}
            {%- do eis__add(ctx, 'prot_' ~ attr ~ '_' ~ v | lower, 'protected', none, '1 when ' ~ attr ~ ' is ' ~ v ~ ' (protected attribute, opt-in)',
                            'officers', 'static', 'none', "case when b.o_" ~ attr ~ " = '" ~ v ~ "' then 1 else 0 end") -%}
        {%- endfor -%}
    {%- endfor -%}
{% endmacro %}


{# ============================================================================ the catalogue #}

{#
    The feature blocks in mart order: (block, the macro building it, the raw tables it reads).  A block's
    columns exist exactly when the config names it on (feature_blocks; protected: protected_attributes_as_features).
#}
{% macro eis__block_list() %}
    {{ return([
        ('ia_history', 'ia', ['ia_cases']),
        ('use_of_force', 'uof', ['use_of_force']),
        ('dispatches', 'dsp', ['dispatches', 'crime_reports']),
        ('arrests', 'arr', ['arrests']),
        ('traffic_stops', 'ts', ['traffic_stops']),
        ('field_interviews', 'fi', ['field_interviews']),
        ('citations', 'cit', ['citations']),
        ('secondary_employment', 'sec', ['secondary_employment']),
        ('training', 'trn', ['training']),
        ('eis_flags', 'flg', ['eis_flags']),
        ('characteristics', 'characteristics', ['officers', 'assignments']),
        ('neighborhood', 'neighborhood', ['neighborhoods']),
        ('outliers', 'outliers', []),
        ('change', 'change', []),
        ('legacy_rules', 'legacy', ['ia_cases']),
    ]) }}
{% endmacro %}


{% macro eis_features() %}
    {%- set cfg = eis_cfg() -%}
    {%- set codes = eis_codes() -%}
    {%- set windows = cfg.windows -%}
    {%- set ctx = {'features': [], 'base': {}, 'lookbacks': {}, 'medians': [], 'sources': [], 'blocks': []} -%}

    {#- the running totals read: a source's block is on, or a legacy rule counts its events -#}
    {%- set legacy_on = eis_block_on('legacy_rules') -%}
    {%- for s in eis_sources() -%}
        {%- if eis_block_on(s.block) or (legacy_on and s.key == 'ia')
               or (legacy_on and s.key == 'uof' and cfg.legacy_rules | selectattr('source', 'equalto', 'use_of_force') | list) -%}
            {%- do ctx.sources.append(s) -%}
            {%- do ctx.lookbacks.update({s.key: {}}) -%}
        {%- endif -%}
    {%- endfor -%}

    {%- for block, kind, tables in eis__block_list() -%}
        {%- set on = eis_block_on(block) -%}
        {%- do ctx.blocks.append({'block': block, 'tables': tables, 'on': on}) -%}
        {%- if on and kind in ('fi', 'cit') -%}
            {%- do eis__block_by_type(ctx, cfg, codes, windows, kind, 'field interviews' if kind == 'fi' else 'citations',
                                      'fi_type' if kind == 'fi' else 'citation_type') -%}
        {%- elif on and kind == 'dsp' -%}
            {%- do eis__block_dsp(ctx, cfg, codes, windows) -%}
            {%- do eis__block_crs(ctx, cfg, codes, windows) -%}
        {%- elif on and kind == 'ia' %}{% do eis__block_ia(ctx, cfg, codes, windows) -%}
        {%- elif on and kind == 'uof' %}{% do eis__block_uof(ctx, cfg, codes, windows) -%}
        {%- elif on and kind == 'arr' %}{% do eis__block_arr(ctx, cfg, codes, windows) -%}
        {%- elif on and kind == 'ts' %}{% do eis__block_ts(ctx, cfg, codes, windows) -%}
        {%- elif on and kind == 'sec' %}{% do eis__block_sec(ctx, cfg, codes, windows) -%}
        {%- elif on and kind == 'trn' %}{% do eis__block_trn(ctx, cfg, codes, windows) -%}
        {%- elif on and kind == 'flg' %}{% do eis__block_flg(ctx, cfg, codes, windows) -%}
        {%- elif on and kind == 'characteristics' %}{% do eis__block_characteristics(ctx, cfg, codes, windows) -%}
        {%- elif on and kind == 'neighborhood' %}{% do eis__block_neighborhood(ctx, cfg, codes, windows) -%}
        {%- elif on and kind == 'outliers' %}{% do eis__block_outliers(ctx, cfg, codes, windows) -%}
        {%- elif on and kind == 'change' %}{% do eis__block_change(ctx, cfg, codes, windows) -%}
        {%- elif on and kind == 'legacy' %}{% do eis__block_legacy(ctx, cfg, codes, windows) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if cfg.protected_as_features -%}
        {%- do eis__block_protected(ctx, cfg, codes, windows) -%}
    {%- endif -%}

    {#- names: unique and <= 63 characters -#}
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
