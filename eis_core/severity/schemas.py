"""Request and response bodies of the severity API (pydantic models; they make its OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from eis_core.severity.features import OFFENSES, WEAPONS

MAX_BATCH = 1000
#: the largest request body accepted (a full batch of 1,000 reports is about 0.4 MB); larger gets 413
MAX_BODY_BYTES = 2 * 1024 * 1024

Offense = Literal[tuple(OFFENSES)]  # type: ignore[valid-type]
Weapon = Literal[tuple(WEAPONS)]  # type: ignore[valid-type]
Severity = Literal["HIGH", "MEDIUM", "LOW"]


class CrimeReport(BaseModel):
    """A crime report as it is filed (the contract's crime_reports columns known at filing)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "report_id": "R000123456",
                    "reported_at": "2015-12-01T22:15:00",
                    "division": "D1",
                    "beat": "D1B1",
                    "offense_category": "ROBBERY",
                    "weapon": "FIREARM",
                    "victim_count": 1,
                    "gang_related": False,
                    "domestic_violence": False,
                    "narcotics": False,
                    "hate_crime": False,
                    "child_involved": False,
                    "suicide_related": False,
                }
            ]
        },
    )

    report_id: str = Field(min_length=1, max_length=64, description="The department's report id (logged).")
    reported_at: dt.datetime = Field(
        description="When the report was filed (department wall-clock time; an offset is ignored)."
    )
    division: str = Field(min_length=1, max_length=64)
    beat: str = Field(min_length=1, max_length=64)
    offense_category: Offense
    weapon: Weapon
    victim_count: int = Field(ge=0, le=1000)
    gang_related: bool = False
    domestic_violence: bool = False
    narcotics: bool = False
    hate_crime: bool = False
    child_involved: bool = False
    suicide_related: bool = False
    beat_reports_30d: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Reports in the beat in the 30 days before reported_at; omit it and the service counts them "
            "from the warehouse."
        ),
    )


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reports: list[CrimeReport] = Field(min_length=1, max_length=MAX_BATCH)


class SeverityPrediction(BaseModel):
    report_id: str
    severity: Severity
    probabilities: dict[str, float] = Field(description="HIGH, MEDIUM, LOW; they sum to 1.")
    model_version: str
    beat_reports_30d: int


class BatchResponse(BaseModel):
    model_version: str
    predictions: list[SeverityPrediction]


__all__ = ["MAX_BATCH", "MAX_BODY_BYTES", "BatchRequest", "BatchResponse", "CrimeReport", "SeverityPrediction"]
