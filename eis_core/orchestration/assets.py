"""The Assets (Airflow 3 data-aware scheduling) the DAGs produce and consume.

Kept in one small module so the producer (``eis_ingest``) and the consumer (``eis_transform``) can
never disagree on a URI.  Imports only ``airflow.sdk`` - DAG files import this at parse time.
"""

from __future__ import annotations

from airflow.sdk import Asset

RAW_URI = "eis://warehouse/raw"
STAGING_URI = "eis://warehouse/staging"

#: schema ``raw`` was (re)loaded from a validated drop
RAW = Asset(RAW_URI)
PRODUCTION_URI = "eis://warehouse/production"
#: the daily risk list (schema ``production``) was written for a date
PRODUCTION = Asset(PRODUCTION_URI)

#: dbt built the staging models (and everything downstream) on the new raw data
STAGING = Asset(STAGING_URI)

__all__ = ["PRODUCTION", "PRODUCTION_URI", "RAW", "RAW_URI", "STAGING", "STAGING_URI"]
