"""Submitting reports through the API: the web form's validation and service, the
same deduplication and moderation, and Idempotency-Key."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from api.models import IdempotentRequest
from incidents.models import DedupResult, Report, ReportEvent

from .conftest import client_with

pytestmark = pytest.mark.django_db

VALID = {
    "title": "A hiring tool rejected every applicant over 50",
    "text": "The screening system filtered out older applicants automatically.",
    "date_occurred": "2025-03-01",
    "countries": ["de"],
    "ai_system": "HireRank",
    "source_url": "https://news.example.org/hirerank",
    "links": ["https://blog.example.org/hirerank"],
    "hazard_guesses": ["malfunction.bias"],
    "contact_email": "sender@example.org",
    "consent": True,
}


@pytest.fixture
def submitter(submit_key):
    return client_with(submit_key[1])


def test_a_report_submitted_by_api_is_stored_like_a_web_report(submitter, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = submitter.post("/api/v1/reports/", VALID, format="json")

    assert response.status_code == 201, response.content
    report = Report.objects.get(pk=response.json()["id"])
    assert report.channel == Report.Channel.API
    assert report.status == Report.Status.RECEIVED
    assert [c.code for c in report.countries] == ["DE"]
    assert report.other_links == VALID["links"]
    assert list(report.taggings.values_list("term__code", flat=True)) == ["malfunction.bias"]
    assert report.contact_email == "sender@example.org"
    assert response.json()["status_url"].endswith(report.get_status_url())
    assert ReportEvent.objects.filter(report=report, action="received", public=True).exists()
    assert len(callbacks) == 2  # the acknowledgement and the deduplication task, as for the web form


def test_the_submitted_report_is_deduplicated(submitter, eager_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = submitter.post("/api/v1/reports/", VALID, format="json")

    result = DedupResult.objects.get(report_id=response.json()["id"])
    assert result.state == DedupResult.State.DONE


def test_a_report_waits_for_moderation_and_is_not_public(submitter, api):
    response = submitter.post("/api/v1/reports/", VALID, format="json")

    assert api.get(f"/api/v1/reports/{response.json()['id']}/").status_code == 404
    assert VALID["title"] not in api.get("/api/v1/reports/").content.decode()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": ""}, "title", "This field may not be blank."),
        ({"text": None}, "text", "This field is required."),
        ({"consent": False}, "consent", "Please agree, so that we may use your report."),
        ({"date_occurred": "2999-01-01"}, "date_occurred", "That date is in the future. When did it happen?"),
        ({"date_occurred": "1900-01-01"}, "date_occurred", "Please check the year."),
        ({"date_occurred": "last week"}, "date_occurred", None),
        ({"countries": ["ZZ"]}, "countries", None),
        ({"links": ["not a link"]}, "links", "These are not web addresses"),
        ({"source_url": "javascript:alert(1)"}, "source_url", None),
        ({"hazard_guesses": ["malfunction"]}, "hazard_guesses", None),  # families are not guesses
        ({"contact_email": "nobody"}, "contact_email", None),
        ({"submitter_role": "king"}, "submitter_role", None),
        ({"countries": "DE"}, "countries", None),
        ({"title": "x" * 301}, "title", None),
    ],
)
def test_bad_input_is_a_400_with_the_forms_message(submitter, changes, field, message):
    data = {**VALID, **changes}
    data = {k: v for k, v in data.items() if v is not None}

    response = submitter.post("/api/v1/reports/", data, format="json")

    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in {e["attr"].split(".")[0] for e in errors}
    if message:
        assert any(message in e["detail"] for e in errors)
    assert not Report.objects.exists()


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [("{not json", "application/json"), ("title=x", "application/x-www-form-urlencoded"), ("[]", "application/json")],
)
def test_a_body_that_is_not_a_json_object_is_a_4xx(submitter, payload, content_type):
    response = submitter.generic("POST", "/api/v1/reports/", payload, content_type=content_type)

    assert response.status_code in (400, 415)
    assert response.json()["errors"]
    assert not Report.objects.exists()


def test_a_retried_post_with_the_same_idempotency_key_creates_one_report(submitter):
    first = submitter.post("/api/v1/reports/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="key-1")
    again = submitter.post("/api/v1/reports/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="key-1")

    assert first.status_code == 201
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Report.objects.count() == 1


def test_another_body_with_a_used_key_is_refused(submitter):
    submitter.post("/api/v1/reports/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="key-1")

    response = submitter.post(
        "/api/v1/reports/", {**VALID, "title": "Something else"}, format="json", HTTP_IDEMPOTENCY_KEY="key-1"
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert Report.objects.count() == 1


def test_keys_are_per_api_key_and_without_one_every_post_counts(submitter, public_user):
    from api.models import ApiKey
    from api.services import api_key_create

    _other, raw = api_key_create(user=public_user, name="second", scope=ApiKey.Scope.SUBMIT)
    submitter.post("/api/v1/reports/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="same")
    client_with(raw).post("/api/v1/reports/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="same")
    submitter.post("/api/v1/reports/", VALID, format="json")

    assert Report.objects.count() == 3


def test_an_invalid_request_leaves_its_idempotency_key_unused(submitter):
    bad = submitter.post("/api/v1/reports/", {**VALID, "consent": False}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    good = submitter.post("/api/v1/reports/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert (bad.status_code, good.status_code) == (400, 201)
    assert IdempotentRequest.objects.count() == 1


def test_submissions_are_rate_limited(submitter, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100/min", "key": "100/min", "submit": "2/hour"},
    }
    statuses = [submitter.post("/api/v1/reports/", VALID, format="json").status_code for _ in range(3)]

    assert statuses == [201, 201, 429]
    assert Report.objects.count() == 2


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_retries_create_one_report(submit_key):
    """Two requests with one key at the same moment (PostgreSQL): one report, the same answer."""
    raw = submit_key[1]
    answers: list[tuple[int, dict]] = []
    barrier = threading.Barrier(2)

    def post() -> None:
        try:
            barrier.wait()
            response = client_with(raw).post("/api/v1/reports/", VALID, format="json", HTTP_IDEMPOTENCY_KEY="race")
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(status for status, _ in answers) == [200, 201]
    assert answers[0][1]["id"] == answers[1][1]["id"]
    assert Report.objects.count() == 1


def test_dates_in_the_receipt_are_timezone_aware(submitter):
    created = datetime.datetime.fromisoformat(
        submitter.post("/api/v1/reports/", VALID, format="json").json()["created"]
    )

    assert created.tzinfo is not None
    assert abs((timezone.now() - created).total_seconds()) < 60
