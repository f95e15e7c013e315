{# Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand. #}

{# Code sets of the department contract (`codes`), used to generate one-hot / by-type columns;
   disposition_final = every disposition but the open one (`open_disposition`). #}
{% macro eis_codes() %}
    {{ return({
        'sex':               ['M', 'F', 'X'],
        'race':              ['WHITE', 'BLACK', 'HISPANIC', 'ASIAN', 'OTHER', 'UNKNOWN'],
        'education':         ['HS', 'SOME_COLLEGE', 'ASSOCIATE', 'BACHELOR', 'GRADUATE', 'UNKNOWN'],
        'rank':              ['OFFICER', 'SERGEANT', 'LIEUTENANT', 'CAPTAIN'],
        'shift':             ['DAY', 'EVENING', 'NIGHT', 'UNKNOWN'],
        'event_type':        ['CITIZEN_COMPLAINT', 'OFFICER_COMPLAINT', 'VEHICLE_ACCIDENT', 'INJURY', 'USE_OF_FORCE', 'RAID_AND_SEARCH', 'PURSUIT', 'FIREARM_DISCHARGE', 'TIRE_DEFLATION', 'RULE_VIOLATION', 'SICK_LEAVE'],
        'disposition':       ['SUSTAINED', 'NOT_SUSTAINED', 'EXONERATED', 'UNFOUNDED', 'PREVENTABLE', 'NOT_PREVENTABLE', 'JUSTIFIED', 'UNJUSTIFIED', 'NO_FINDING', 'PENDING'],
        'force_type':        ['PHYSICAL', 'TAKEDOWN', 'TASER', 'CHEMICAL', 'IMPACT_WEAPON', 'FIREARM', 'OTHER'],
        'review_outcome':    ['APPROVED', 'NOT_APPROVED', 'REFERRED_TO_IA'],
        'call_source':       ['CITIZEN_911', 'CITIZEN_NON_EMERGENCY', 'OFFICER_INITIATED', 'ALARM'],
        'charge_category':   ['VIOLENT', 'PROPERTY', 'DRUG', 'PUBLIC_ORDER', 'TRAFFIC', 'WARRANT', 'OTHER'],
        'stop_reason':       ['SPEEDING', 'MOVING_VIOLATION', 'EQUIPMENT', 'REGISTRATION', 'INVESTIGATIVE', 'OTHER'],
        'stop_outcome':      ['NO_ACTION', 'WARNING', 'CITATION', 'ARREST'],
        'fi_type':           ['STOP_AND_FRISK', 'KNOCK_AND_TALK', 'RAID_AND_SEARCH', 'TRAFFIC_RELATED', 'OTHER'],
        'citation_type':     ['MOVING', 'PARKING', 'EQUIPMENT', 'CRIMINAL', 'OTHER'],
        'offense_category':  ['HOMICIDE', 'ASSAULT', 'ROBBERY', 'SEX_OFFENSE', 'BURGLARY', 'THEFT', 'VEHICLE_THEFT', 'VANDALISM', 'DRUG', 'FRAUD', 'WEAPONS', 'OTHER'],
        'weapon':            ['NONE', 'FIREARM', 'KNIFE', 'OTHER', 'UNKNOWN'],
        'severity':          ['HIGH', 'MEDIUM', 'LOW'],
        'employer_type':     ['RETAIL', 'FINANCIAL', 'SPORTS', 'EVENTS', 'HOSPITAL', 'OTHER'],
        'training_topic':    ['LESS_LETHAL', 'BIAS', 'FITNESS', 'DE_ESCALATION', 'FIREARMS', 'LEGAL', 'OTHER'],
        'disposition_final': ['SUSTAINED', 'NOT_SUSTAINED', 'EXONERATED', 'UNFOUNDED', 'PREVENTABLE', 'NOT_PREVENTABLE', 'JUSTIFIED', 'UNJUSTIFIED', 'NO_FINDING']
    }) }}
{% endmacro %}


{# Call types counted as stress calls (`stress_call_types`): officer features and the dispatch dataset. #}
{% macro eis_stress_call_types() %}
    {{ return(['SUICIDE', 'DOMESTIC', 'CHILD-ABUSE', 'MISSING-CHILD']) }}
{% endmacro %}
