"""eis_core: the library behind the Early Intervention System platform.

Everything that does work lives here; the Airflow DAGs in ``dags/`` and the ``eis`` command line only wire it.
"""

__version__ = "0.1.0"
