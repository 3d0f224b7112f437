"""Placeholder until the engine lands: every report looks new."""

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from incidents.models import Incident, Report

ENGINE_VERSION = "placeholder"


@dataclass(frozen=True)
class Candidate:
    incident_id: int
    score: float
    reasons: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    candidates: list[Candidate]
    decision: str


def match_report(report: Report, *, exclude_incident_ids: Collection[int] = ()) -> Match:
    return Match(candidates=[], decision="new")


def similar_published(title: str, text: str, limit: int = 3) -> list[tuple[Incident, float]]:
    return []
