"""Deduplication on the production set-up: reports submitted through the form
are matched by a real Celery worker over Redis; a worker killed in the middle
of the task leaves nothing half-written, and the task redelivered to another
worker ends as one clean run would."""

import time

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import DedupResult, Report, ReportIncidentLink

from ..factories import published_incident
from .conftest import start_worker, stop_worker

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ARTICLE = "https://www.example-news.org/2024/05/robotaxi-blocks-ambulance"


def wait_for(condition, *, seconds: float, log_of=()) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    logs = "\n\n".join(p.log_path.read_text() for p in log_of)
    raise AssertionError(f"not done within {seconds} s\n{logs}")


def known_incident():
    """A published incident whose supporting article is in the index."""
    incident = published_incident(title="Robotaxi blocks an ambulance in San Francisco")
    report = services.report_submit(
        title="Robotaxi blocks ambulance on its way to a crash",
        text="A driverless car stopped in front of an ambulance.",
        source_url=ARTICLE,
        channel=Report.Channel.FEED,
    )
    services.report_attach(report=report, incident=incident, actor=None)
    return incident


def form_data(**changes):
    return {
        "title": "Driverless taxi stood in the way of an ambulance",
        "text": "I saw a robotaxi block an ambulance for minutes.",
        "consent": "on",
        **changes,
    }


def test_the_worker_links_a_report_of_the_same_article_sent_through_the_form(client, celery_worker_process):
    incident = known_incident()
    # The same article with tracking parameters and an AMP path is the same article.
    same_article = "https://example-news.org/2024/05/robotaxi-blocks-ambulance/amp?utm_source=twitter&fbclid=x1"

    response = client.post(reverse("reporting:create"), form_data(source_url=same_article))

    assert response.status_code == 302
    report = Report.objects.get(source_url=same_article)
    wait_for(
        lambda: DedupResult.objects.filter(report=report, state="done").exists(),
        seconds=30,
        log_of=[celery_worker_process],
    )
    result = DedupResult.objects.get(report=report)
    assert result.decision == DedupResult.Decision.AUTO_LINK
    assert result.incident_id == incident.pk
    assert result.candidates[0]["reasons"]["same_url"] is True
    link = ReportIncidentLink.objects.get(report=report)
    assert (link.incident_id, link.method, link.confirmed) == (incident.pk, "dedup", False)
    assert "incidents.tasks.dedup_report[" in celery_worker_process.log_path.read_text()


def test_a_worker_killed_in_the_middle_leaves_the_task_to_another(client, tmp_path):
    incident = known_incident()
    marker = tmp_path / "crashed"
    fast_redelivery = {"CELERY_VISIBILITY_TIMEOUT": "3"}
    doomed = start_worker(
        tmp_path,
        "doomed",
        app="tests.integration.crashing_worker",
        extra_env={"IC_CRASH_MARKER": str(marker), **fast_redelivery},
    )
    try:
        client.post(reverse("reporting:create"), form_data(source_url=ARTICLE + "?utm_medium=email"))
        report = Report.objects.get(source_url=ARTICLE + "?utm_medium=email")
        wait_for(lambda: doomed.poll() is not None, seconds=30, log_of=[doomed])
    finally:
        stop_worker(doomed)
    assert marker.exists(), "the worker died where the test meant it to"
    # Died inside the transaction: nothing of the run was written.
    assert not ReportIncidentLink.objects.filter(report=report).exists()
    assert DedupResult.objects.get(report=report).state == DedupResult.State.PENDING

    rescuer = start_worker(tmp_path, "rescuer", extra_env=fast_redelivery)
    try:
        wait_for(
            lambda: DedupResult.objects.filter(report=report, state="done").exists(),
            seconds=60,
            log_of=[rescuer],
        )
    finally:
        stop_worker(rescuer)
    result = DedupResult.objects.get(report=report)
    assert result.decision == DedupResult.Decision.AUTO_LINK
    assert result.attempts >= 2
    assert list(ReportIncidentLink.objects.filter(report=report).values_list("incident_id", flat=True)) == [incident.pk]
