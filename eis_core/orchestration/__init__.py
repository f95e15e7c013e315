"""Orchestration: the real Airflow 3 stack run locally (LocalExecutor, metadata in the warehouse
server's ``airflow`` database) and the DAGs in ``<repo>/dags``.

Import submodules explicitly; this package imports nothing heavy (``eis --help`` stays fast).
"""
