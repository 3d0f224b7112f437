"""Placeholder until the engine's index lands: no candidates are indexed."""

from incidents.models import Report


def index_report(report: Report, incident_id: int) -> None:
    return None


def unindex_report(report: Report, incident_id: int) -> None:
    return None


def rebuild() -> int:
    return 0
