"""Moderation: the queue, reviewing a report, and the incident workspace.

Every action is tried as a plain form post (answered with a redirect) and as
an htmx request (answered with the fragment it changed)."""

import datetime
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from incidents import services
from incidents.models import Entity, Evidence, Incident, Report, ReportIncidentLink, Revision

from ..factories import EntityFactory, IncidentFactory, ReportFactory, UserFactory, link, published_incident, term
from .test_evidence import png_bytes
from .test_reporting import visible_text

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def other_moderator():
    return UserFactory.create(username="other-moderator", roles=["moderator"])


def post(client, url, data=None, *, htmx=False):
    return client.post(url, data or {}, **(HTMX if htmx else {}))


def assert_done(response, *, htmx, redirect_to, fragment):
    """htmx gets the changed fragment (200); a plain post is redirected (302)."""
    if htmx:
        assert response.status_code == 200
        assert "<html" not in response.content.decode()
        assert fragment in visible_text(response)
    else:
        assert response.status_code == 302
        assert response["Location"] == redirect_to


def ready_incident(**kwargs):
    """A draft with everything publishing asks for."""
    return IncidentFactory.create(
        severity=term("oecd-severity", "incident"),
        tags=[("iasr-2025", "malfunction.bias"), ("oecd-harm-type", "human-rights")],
        **kwargs,
    )


# --- Queue -------------------------------------------------------------------------


def test_queue_lists_open_reports_oldest_first(mod_client):
    now = timezone.now()
    newer = ReportFactory.create(title="Newer report", created=now)
    older = ReportFactory.create(title="Older report", created=now - datetime.timedelta(days=3))
    ReportFactory.create(title="Rejected report", status=Report.Status.REJECTED)

    response = mod_client.get("/moderation/")

    assert response.status_code == 200
    text = visible_text(response)
    assert text.index(older.title) < text.index(newer.title)
    assert "Rejected report" not in text


def test_queue_filters_by_status_and_by_claimant(mod_client, moderator, other_moderator):
    ReportFactory.create(title="Mine", claimed_by=moderator, claimed_at=timezone.now())
    ReportFactory.create(title="Theirs", claimed_by=other_moderator, claimed_at=timezone.now())
    ReportFactory.create(title="Turned down", status=Report.Status.REJECTED)

    mine = visible_text(mod_client.get("/moderation/?mine=1"))
    rejected = visible_text(mod_client.get("/moderation/?status=rejected"))

    assert "Mine" in mine
    assert "Theirs" not in mine
    assert "Turned down" in rejected
    assert "Theirs" not in rejected


def test_queue_answers_htmx_with_the_table_only(mod_client):
    ReportFactory.create(title="Chatbot report")

    response = mod_client.get("/moderation/?status=all", **HTMX)

    assert "<html" not in response.content.decode()
    assert "<table" in response.content.decode()
    assert "Chatbot report" in visible_text(response)


def test_an_empty_queue_says_it_is_clear(mod_client):
    assert "The queue is clear." in visible_text(mod_client.get("/moderation/"))


def test_report_page_shows_the_report_its_contact_and_evidence(mod_client):
    report = services.report_submit(
        title="Voice clone scam",
        text="A cloned voice asked my mother for money.",
        contact_email="sender@example.org",
        evidence_files=[SimpleUploadedFile("call.png", png_bytes())],
    )
    evidence = Evidence.objects.get()

    response = mod_client.get(f"/moderation/reports/{report.pk}/")

    text = visible_text(response)
    assert "Voice clone scam" in text
    assert "A cloned voice asked my mother for money." in text
    assert "sender@example.org" in text
    assert "call.png (image/png" in text
    assert f'href="/moderation/evidence/{evidence.pk}/"' in response.content.decode()


def test_a_missing_report_is_not_found(mod_client):
    assert mod_client.get("/moderation/reports/999999/").status_code == 404


# --- Claim and release ----------------------------------------------------------------


def test_claiming_a_report(mod_client, moderator, htmx):
    report = ReportFactory.create()

    response = post(mod_client, f"/moderation/reports/{report.pk}/claim/", htmx=htmx)

    assert_done(
        response,
        htmx=htmx,
        redirect_to=f"/moderation/reports/{report.pk}/",
        fragment="Claimed by moderator@example.org",
    )
    report.refresh_from_db()
    assert report.claimed_by == moderator
    assert report.status == Report.Status.IN_REVIEW


def test_second_moderator_cannot_claim_a_claimed_report(client, moderator, other_moderator, htmx):
    report = ReportFactory.create()
    services.report_claim(report=report, actor=moderator)
    client.force_login(other_moderator)

    response = post(client, f"/moderation/reports/{report.pk}/claim/", htmx=htmx)

    assert response.status_code == 409
    assert "Another moderator is working on this report." in visible_text(response)
    assert Report.objects.get(pk=report.pk).claimed_by == moderator


def test_releasing_a_claim(mod_client, moderator, htmx):
    report = ReportFactory.create()
    services.report_claim(report=report, actor=moderator)

    response = post(mod_client, f"/moderation/reports/{report.pk}/release/", htmx=htmx)

    assert_done(response, htmx=htmx, redirect_to=f"/moderation/reports/{report.pk}/", fragment="Claim this report")
    assert Report.objects.get(pk=report.pk).claimed_by is None


# --- Reject ---------------------------------------------------------------------------


def test_rejecting_without_a_reason_is_refused(mod_client, htmx):
    report = ReportFactory.create()

    response = post(mod_client, f"/moderation/reports/{report.pk}/reject/", {"reason": ""}, htmx=htmx)

    assert response.status_code == 400
    assert "This field is required." in visible_text(response)
    assert Report.objects.get(pk=report.pk).status == Report.Status.RECEIVED


def test_rejecting_with_a_reason(mod_client, htmx):
    report = ReportFactory.create()

    response = post(mod_client, f"/moderation/reports/{report.pk}/reject/", {"reason": "No AI involved."}, htmx=htmx)

    assert_done(response, htmx=htmx, redirect_to=f"/moderation/reports/{report.pk}/", fragment="No AI involved.")
    report.refresh_from_db()
    assert report.status == Report.Status.REJECTED
    assert report.public_reason == "No AI involved."


def test_a_report_claimed_by_someone_else_cannot_be_rejected(client, moderator, other_moderator, htmx):
    report = ReportFactory.create()
    services.report_claim(report=report, actor=moderator)
    client.force_login(other_moderator)

    response = post(client, f"/moderation/reports/{report.pk}/reject/", {"reason": "Spam."}, htmx=htmx)

    assert response.status_code == 409
    assert "moderator is working on this report." in visible_text(response)
    assert Report.objects.get(pk=report.pk).status == Report.Status.IN_REVIEW


# --- New incident, attach -------------------------------------------------------------


def test_opening_a_new_incident_from_a_report(mod_client, moderator, htmx):
    report = ReportFactory.create(title="Hiring tool ranked women lower")

    response = post(mod_client, f"/moderation/reports/{report.pk}/new-incident/", htmx=htmx)

    incident = Incident.objects.get()
    workspace = f"/moderation/incidents/{incident.pk}/"
    if htmx:
        assert response.status_code == 200
        assert response["HX-Redirect"] == workspace
    else:
        assert response.status_code == 302
        assert response["Location"] == workspace
    assert re.fullmatch(rf"INC-{timezone.now().year}-\d{{6}}", incident.public_id)
    assert incident.status == Incident.Status.DRAFT
    assert incident.title == "Hiring tool ranked women lower"
    assert incident.created_by == moderator
    assert list(incident.reports.all()) == [report]

    page = visible_text(mod_client.get(workspace))
    assert incident.public_id in page
    assert "Hiring tool ranked women lower" in page


def test_a_new_incident_cannot_be_opened_from_a_report_claimed_by_someone_else(client, moderator, other_moderator):
    report = ReportFactory.create()
    services.report_claim(report=report, actor=moderator)
    client.force_login(other_moderator)

    response = client.post(f"/moderation/reports/{report.pk}/new-incident/")

    assert response.status_code == 409
    assert Incident.objects.count() == 0


@pytest.mark.parametrize("query", ["women hiring", "INC-2025-000777", "inc-2025-000777"])
def test_attach_search_finds_incidents_by_title_words_and_by_id(mod_client, query, htmx):
    report = ReportFactory.create()
    IncidentFactory.create(public_id="INC-2025-000777", title="Hiring tool ranked women lower")
    IncidentFactory.create(title="Robot taxi blocked an ambulance")

    response = mod_client.get(f"/moderation/reports/{report.pk}/attach/search/", {"q": query}, **(HTMX if htmx else {}))

    assert response.status_code == 200
    text = visible_text(response)
    assert "Add to INC-2025-000777" in text
    assert "Robot taxi" not in text
    assert ("<html" in response.content.decode()) is not htmx


def test_attach_search_says_when_nothing_is_found(mod_client):
    report = ReportFactory.create()

    response = mod_client.get(f"/moderation/reports/{report.pk}/attach/search/", {"q": "zebra"}, **HTMX)

    assert "No incident found." in visible_text(response)


def test_attaching_to_a_malformed_incident_id_is_not_found(mod_client):
    report = ReportFactory.create()

    response = mod_client.post(f"/moderation/reports/{report.pk}/attach/", {"incident": "x1"})

    assert response.status_code == 404
    assert not report.links.exists()


def test_attaching_a_report_to_an_existing_incident(mod_client, moderator, htmx):
    report = ReportFactory.create()
    incident = IncidentFactory.create(public_id="INC-2025-000778")

    response = post(mod_client, f"/moderation/reports/{report.pk}/attach/", {"incident": incident.pk}, htmx=htmx)

    assert_done(response, htmx=htmx, redirect_to=f"/moderation/reports/{report.pk}/", fragment="INC-2025-000778")
    made = ReportIncidentLink.objects.get()
    assert (made.report, made.incident, made.made_by) == (report, incident, moderator)


# --- The incident workspace -----------------------------------------------------------


def edit_data(incident, **changes):
    data = {
        "title": incident.title,
        "description": incident.description,
        "date_occurred": incident.date_occurred.isoformat() if incident.date_occurred else "",
        "countries": [c.code for c in incident.countries],
        "severity": incident.severity_id or "",
    }
    data.update(changes)
    return data


def test_editing_an_incident_records_a_revision(mod_client, moderator, htmx):
    incident = IncidentFactory.create(title="Old title")
    severity = term("oecd-severity", "serious-hazard")

    response = post(
        mod_client,
        f"/moderation/incidents/{incident.pk}/save/",
        edit_data(incident, title="New title", countries=["FR", "US"], severity=severity.pk),
        htmx=htmx,
    )

    assert_done(response, htmx=htmx, redirect_to=f"/moderation/incidents/{incident.pk}/", fragment="New title")
    incident.refresh_from_db()
    assert incident.title == "New title"
    assert incident.severity == severity
    revision = incident.revisions.get()
    assert revision.actor == moderator
    assert revision.changes == {
        "title": ["Old title", "New title"],
        "countries": [[], ["FR", "US"]],
        "severity": [None, "serious-hazard"],
    }


def test_an_edit_with_an_empty_title_is_refused(mod_client, htmx):
    incident = IncidentFactory.create(title="Keep me")

    response = post(mod_client, f"/moderation/incidents/{incident.pk}/save/", edit_data(incident, title=""), htmx=htmx)

    assert response.status_code == 400
    assert "This field is required." in visible_text(response)
    assert Incident.objects.get(pk=incident.pk).title == "Keep me"
    assert not Revision.objects.exists()


def test_tagging_an_incident(mod_client, htmx):
    incident = IncidentFactory.create()
    category, harm = term("iasr-2025", "malfunction.bias"), term("oecd-harm-type", "human-rights")

    response = post(
        mod_client,
        f"/moderation/incidents/{incident.pk}/tags/",
        {"iasr-2025": [category.pk], "oecd-harm-type": [harm.pk], "oecd-autonomy": ""},
        htmx=htmx,
    )

    assert_done(response, htmx=htmx, redirect_to=f"/moderation/incidents/{incident.pk}/", fragment="Choose a severity.")
    assert {t.term for t in incident.taggings.all()} == {category, harm}
    assert incident.revisions.get().action == "tagged"


def test_publishing_without_category_severity_or_harm_is_refused_with_the_problems(mod_client, htmx):
    report = ReportFactory.create(status=Report.Status.IN_REVIEW)
    incident = IncidentFactory.create(tags=[("iasr-2025", "malfunction")])
    link(report, incident)

    response = post(mod_client, f"/moderation/incidents/{incident.pk}/publish/", htmx=htmx)

    assert response.status_code == 400
    text = visible_text(response)
    assert "Add at least one hazard category." in text
    assert "Choose a severity." in text
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.DRAFT
    assert Report.objects.get(pk=report.pk).status == Report.Status.IN_REVIEW


def test_publishing_an_incident_needs_a_harm_type(mod_client):
    incident = IncidentFactory.create(
        severity=term("oecd-severity", "incident"), tags=[("iasr-2025", "malfunction.bias")]
    )

    response = mod_client.post(f"/moderation/incidents/{incident.pk}/publish/")

    assert response.status_code == 400
    assert "An incident (harm occurred) needs at least one harm type." in visible_text(response)
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.DRAFT


def test_publishing_a_complete_incident(client, mod_client, htmx):
    report = ReportFactory.create(status=Report.Status.IN_REVIEW)
    incident = ready_incident(title="Loan model refused applicants by postcode")
    link(report, incident)

    response = post(mod_client, f"/moderation/incidents/{incident.pk}/publish/", htmx=htmx)

    assert_done(
        response, htmx=htmx, redirect_to=f"/moderation/incidents/{incident.pk}/", fragment="View the public page"
    )
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.PUBLISHED
    assert Report.objects.get(pk=report.pk).status == Report.Status.ACCEPTED
    client.logout()
    assert "Loan model refused applicants by postcode" in visible_text(client.get("/incidents/"))


def test_withdrawing_needs_a_reason(mod_client, htmx):
    incident = published_incident()

    response = post(mod_client, f"/moderation/incidents/{incident.pk}/withdraw/", {"reason": ""}, htmx=htmx)

    assert response.status_code == 400
    assert "This field is required." in visible_text(response)
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.PUBLISHED


def test_withdrawing_removes_an_incident_from_the_catalogue(client, mod_client, htmx):
    incident = published_incident(title="Deepfake of a mayor")

    response = post(
        mod_client, f"/moderation/incidents/{incident.pk}/withdraw/", {"reason": "It was a hoax."}, htmx=htmx
    )

    assert_done(response, htmx=htmx, redirect_to=f"/moderation/incidents/{incident.pk}/", fragment="Withdrawn")
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.WITHDRAWN
    client.logout()
    assert "Deepfake of a mayor" not in visible_text(client.get("/incidents/"))
    assert client.get(incident.get_absolute_url()).status_code == 404


def test_adding_open_ai_and_openai_com_finds_the_known_openai(mod_client, htmx):
    openai = EntityFactory.create(name="OpenAI")
    first, second = IncidentFactory.create(), IncidentFactory.create()

    responses = [
        post(
            mod_client,
            f"/moderation/incidents/{incident.pk}/entities/",
            {"name": name, "kind": "organisation", "role": "developer"},
            htmx=htmx,
        )
        for incident, name in [(first, "Open AI"), (second, "openai.com")]
    ]

    assert_done(responses[0], htmx=htmx, redirect_to=f"/moderation/incidents/{first.pk}/", fragment="OpenAI")
    assert Entity.objects.count() == 1
    assert [link.entity for link in first.entity_links.all()] == [openai]
    assert [link.entity for link in second.entity_links.all()] == [openai]


def test_an_entity_without_a_name_is_refused(mod_client, htmx):
    incident = IncidentFactory.create()

    response = post(
        mod_client,
        f"/moderation/incidents/{incident.pk}/entities/",
        {"name": "--", "kind": "organisation", "role": "developer"},
        htmx=htmx,
    )

    assert response.status_code == 400
    assert "An organisation or system needs a name." in visible_text(response)
    assert Entity.objects.count() == 0


def test_removing_an_entity_from_an_incident(mod_client, moderator, htmx):
    incident = IncidentFactory.create()
    added = services.incident_add_entity(
        incident=incident, actor=moderator, name="Clearview AI", kind="organisation", role="developer"
    )

    response = post(mod_client, f"/moderation/incidents/{incident.pk}/entities/{added.pk}/remove/", htmx=htmx)

    assert_done(response, htmx=htmx, redirect_to=f"/moderation/incidents/{incident.pk}/", fragment="None yet.")
    assert not incident.entity_links.exists()


def test_moderation_incident_list_shows_drafts_by_default(mod_client):
    IncidentFactory.create(title="A draft to finish")
    published_incident(title="Already out")

    drafts = visible_text(mod_client.get("/moderation/incidents/"))
    published = visible_text(mod_client.get("/moderation/incidents/?status=published"))

    assert "A draft to finish" in drafts
    assert "Already out" not in drafts
    assert "Already out" in published


def test_workspace_history_shows_who_changed_what(mod_client, moderator):
    incident = IncidentFactory.create(title="Before")
    services.incident_update(incident=incident, actor=moderator, title="After")

    text = visible_text(mod_client.get(f"/moderation/incidents/{incident.pk}/"))

    assert "moderator@example.org; title: Before → After" in text


# --- Query counts ---------------------------------------------------------------------


def fill_queue(size, claimant):
    for n in range(size):
        report = services.report_submit(
            title=f"Queued report {n}", text="Text.", evidence_files=[SimpleUploadedFile("a.png", png_bytes())]
        )
        if n % 2:
            Report.objects.filter(pk=report.pk).update(claimed_by=claimant, claimed_at=timezone.now())
            link(report, IncidentFactory.create())


@pytest.mark.parametrize("size", [3, 30])
def test_queue_costs_the_same_queries_for_few_and_many_reports(
    mod_client, other_moderator, django_assert_max_num_queries, size
):
    fill_queue(size, other_moderator)

    # Session, user, the user's roles, and the reports with their counts (measured on SQLite).
    with django_assert_max_num_queries(4):
        response = mod_client.get("/moderation/")

    text = visible_text(response)
    assert text.count("Queued report") == size
    assert text.count("1 file") == size
    assert text.count("other-moderator@example.org") == size // 2
