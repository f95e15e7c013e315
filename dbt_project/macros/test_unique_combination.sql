{#
    Generic data test: the combination of `columns` is unique in `model` (compound primary keys).
    A small stand-in for dbt_utils.unique_combination_of_columns, as the project uses no dbt packages.

        data_tests:
          - unique_combination:
              arguments:
                columns: [officer_id, start_date]

    Fails with one row per duplicated key.
#}
{% test unique_combination(model, columns) %}

select
    {% for column in columns -%}
    {{ column }},
    {% endfor -%}
    count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
