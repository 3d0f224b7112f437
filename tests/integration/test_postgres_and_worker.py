"""On the production set-up: PostgreSQL full-text search, and a report's
follow-up task executed by a real Celery worker over Redis."""

import re
import time

import pytest
from django.conf import settings
from django.urls import reverse

from config.celery import app as celery_app
from incidents.models import Report
from incidents.search import is_postgres

from ..factories import published_incident

pytestmark = pytest.mark.services


@pytest.mark.django_db
def test_full_text_search_ranks_title_matches_and_stems_words(client):
    assert is_postgres()
    title_hit = published_incident(title="Deepfake voice used to defraud a bank", description="A cloned voice.")
    body_hit = published_incident(title="Fraud at a bank", description="Criminals used deepfakes of a director.")
    published_incident(title="Chatbot invents refund policy", description="An airline chatbot made it up.")
    response = client.get(reverse("incidents:list"), {"q": "deepfakes"})
    page = list(response.context["page"].object_list)
    # "deepfakes" finds "Deepfake" by its stem; the title match ranks first; the chatbot is absent.
    assert [i.pk for i in page] == [title_hit.pk, body_hit.pk]


@pytest.mark.django_db
def test_websearch_syntax_excludes_words(client):
    keep = published_incident(title="Facial recognition misidentifies shopper", description="Wrong arrest.")
    published_incident(title="Facial recognition at a stadium", description="Mass surveillance.")
    response = client.get(reverse("incidents:list"), {"q": "facial recognition -stadium"})
    assert [i.pk for i in response.context["page"].object_list] == [keep.pk]


# The worker reads committed rows, so this test commits; serialized_rollback puts the
# migrated taxonomy and groups back afterwards for the tests that follow.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_submitted_report_is_acknowledged_by_the_real_worker(client, celery_worker_process):
    assert not settings.CELERY_TASK_ALWAYS_EAGER, "this test needs a real broker, not in-process tasks"
    assert not celery_app.conf.task_always_eager
    response = client.post(
        reverse("reporting:create"),
        {
            "title": "Voice assistant ordered goods nobody asked for",
            "text": "The assistant heard a TV advert and placed an order.",
            "contact_email": "someone@example.org",
            "consent": "on",
        },
    )
    assert response.status_code == 302
    report = Report.objects.get(title="Voice assistant ordered goods nobody asked for")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        report.refresh_from_db()
        if report.acknowledged_at is not None:
            break
        time.sleep(0.2)
    # The task marks the report acknowledged before it sends the e-mail: wait for it to finish.
    log = celery_worker_process.log_path.read_text()
    while time.monotonic() < deadline and not re.search(r"report_received\[[^]]+\] succeeded", log):
        time.sleep(0.2)
        log = celery_worker_process.log_path.read_text()
    assert report.acknowledged_at is not None, f"the worker did not acknowledge the report:\n{log}"
    # The worker, not this process, ran the task and sent the e-mail (console backend).
    assert "incidents.tasks.report_received[" in log
    assert "someone@example.org" in log
