"""Follow-up work on reports. Each task takes ids and can run twice safely:
it claims its work with a conditional update before doing it."""

import datetime
import logging

from celery import Task, shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import InterfaceError, OperationalError
from django.template.loader import render_to_string
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, autoretry_for=(ConnectionError, TimeoutError), retry_backoff=True, max_retries=5)
def report_received(report_id: int) -> str:
    """Acknowledge a new report once: e-mail the contact address, if any."""
    from .models import Report

    unacknowledged = Report.objects.filter(pk=report_id, acknowledged_at__isnull=True)
    # Most reports (feeds, audits, the API) leave no address: one statement claims and settles them.
    if unacknowledged.filter(contact_email="").update(acknowledged_at=timezone.now()):
        return "no-address"
    if not unacknowledged.update(acknowledged_at=timezone.now()):
        return "already-acknowledged"
    report = Report.objects.get(pk=report_id)
    context = {"report": report, "status_url": settings.SITE_URL + report.get_status_url()}
    send_mail(
        subject=render_to_string("incidents/email/received_subject.txt", context).strip(),
        message=render_to_string("incidents/email/received.txt", context),
        from_email=None,
        recipient_list=[report.contact_email],
    )
    return "acknowledged"


@shared_task(acks_late=True, autoretry_for=(ConnectionError, TimeoutError), retry_backoff=True, max_retries=5)
def report_status_notify(event_id: int) -> str:
    """E-mail the submitter about one public status change, at most once."""
    from .models import ReportEvent

    claimed = ReportEvent.objects.filter(pk=event_id, notified_at__isnull=True).update(notified_at=timezone.now())
    if not claimed:
        return "already-notified"
    event = ReportEvent.objects.select_related("report").get(pk=event_id)
    report = event.report
    if not report.contact_email:
        return "no-address"
    context = {"report": report, "event": event, "status_url": settings.SITE_URL + report.get_status_url()}
    send_mail(
        subject=render_to_string("incidents/email/status_subject.txt", context).strip(),
        message=render_to_string("incidents/email/status.txt", context),
        from_email=None,
        recipient_list=[report.contact_email],
    )
    return "notified"


# Worth retrying: the database or the broker was briefly away, or a lock timed out.
TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


@shared_task(bind=True, acks_late=True, max_retries=5, time_limit=120, soft_time_limit=100)
def dedup_report(self: Task, report_id: int) -> str:
    """Match a new report against the catalogue (incidents.dedup.pipeline)."""
    from .dedup.pipeline import dedup_fail, dedup_run

    try:
        result = dedup_run(report_id)
    except TRANSIENT as exc:
        if self.request.retries >= (self.max_retries or 0):
            dedup_fail(report_id, f"gave up after {self.max_retries} retries: {exc!r}")
            raise
        raise self.retry(exc=exc, countdown=min(2 ** (self.request.retries + 1), 60)) from exc
    except Exception as exc:  # a bug or bad data: record it, do not retry forever
        dedup_fail(report_id, repr(exc))
        raise
    return result.decision if result else "missing"


@shared_task
def release_stale_claims() -> int:
    """Free claims left by moderators who went away (Celery beat, every 15 minutes)."""
    from .models import Report

    cutoff = timezone.now() - datetime.timedelta(minutes=settings.CLAIM_TIMEOUT_MINUTES)
    released = Report.objects.filter(claimed_at__lt=cutoff).update(claimed_by=None, claimed_at=None)
    if released:
        logger.info("released %d stale claims", released)
    return released
