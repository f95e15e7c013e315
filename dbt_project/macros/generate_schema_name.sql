{#
    Use a model's custom schema as is: staging models land in schema `staging`, not `<target>_staging`.
    Nodes without a custom schema fall back to the profile's schema.  One warehouse per deployment,
    so there is no need for dbt's per-developer prefixes.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
