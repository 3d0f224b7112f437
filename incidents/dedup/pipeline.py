"""Run the engine for one report and apply its decision. Called by the Celery
task ``incidents.tasks.dedup_report``; safe to run twice or after a crash:
the result and the link are written in one transaction, and a finished result
of the current engine version is not redone."""

import logging

from django.db import transaction
from django.utils import timezone

from incidents import services
from incidents.models import DedupResult, Report

from . import engine

logger = logging.getLogger(__name__)


def dedup_run(report_id: int) -> DedupResult | None:
    # The report and its result, if a run before this one made it, in one query.
    report = Report.objects.select_related("dedup").filter(pk=report_id).first()
    if report is None:
        return None  # deleted since it was queued
    # A first run counts its attempt as it creates the row; a run after it, with an update.
    result, created = _result_of(report)
    if result.state == DedupResult.State.DONE and result.engine_version == engine.ENGINE_VERSION:
        return result
    if not created:
        result.attempts += 1
        DedupResult.objects.filter(pk=result.pk).update(attempts=result.attempts)
    match = engine.match_report(report)  # leaves out the incidents a moderator said it is not
    best = match.candidates[0] if match.candidates else None
    done = {
        "decision": match.decision,
        "incident_id": best.incident_id if best else None,
        "score": best.score if best else None,
        "candidates": [
            {"incident": c.incident_id, "score": round(c.score, 4), "reasons": c.reasons} for c in match.candidates
        ],
        "engine_version": engine.ENGINE_VERSION,
        "state": DedupResult.State.DONE,
        "error": "",
        "finished": timezone.now(),
    }
    with transaction.atomic():
        # One statement both locks the row and checks that no other run finished first: the
        # update waits for a run writing the row, then re-reads it (PostgreSQL's read committed).
        unfinished = DedupResult.objects.filter(pk=result.pk).exclude(
            state=DedupResult.State.DONE, engine_version=engine.ENGINE_VERSION
        )
        if not unfinished.update(**done):
            return DedupResult.objects.get(pk=result.pk)  # another run finished first
        for name, value in done.items():
            setattr(result, name, value)
        if match.decision == DedupResult.Decision.AUTO_LINK and best is not None and not report.links.exists():
            services.report_link_auto(report=report, incident_id=best.incident_id, score=best.score)
    return result


def _result_of(report: Report) -> tuple[DedupResult, bool]:
    """(the report's result, whether this run created it). ``get_or_create`` without its
    first query, which ``dedup_run``'s read of the report has answered already."""
    try:
        return report.dedup, False
    except DedupResult.DoesNotExist:
        return services.create_or_get(DedupResult, report=report, defaults={"attempts": 1})


def dedup_fail(report_id: int, error: str) -> None:
    """Record a permanent failure on the report's result, for staff to see."""
    DedupResult.objects.update_or_create(
        report_id=report_id,
        defaults={"state": DedupResult.State.FAILED, "error": error[:4000], "finished": timezone.now()},
    )
    logger.error("deduplication of report %s failed: %s", report_id, error)
