"""The write services: what each leaves in the database, and what it refuses."""

import datetime
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from incidents import services
from incidents.models import (
    DedupResult,
    Entity,
    EntityAlias,
    Evidence,
    Incident,
    IncidentEntity,
    Report,
    ReportEvent,
    ReportIncidentLink,
    Revision,
    normalise_alias,
)
from incidents.text import render_markdown

from ..factories import EntityFactory, IncidentFactory, ReportFactory, UserFactory, link, published_incident, term
from .test_evidence import EXE_BYTES

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_moderator():
    return UserFactory.create(username="other-moderator", roles=["moderator"])


# --- report_submit ---------------------------------------------------------------


def test_submit_stores_the_report_with_a_public_received_event(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        report = services.report_submit(title="  A chatbot lied  ", text="It did.", countries=["US"])

    report.refresh_from_db()
    assert report.title == "A chatbot lied"
    assert report.status == Report.Status.RECEIVED
    assert [(e.action, e.public) for e in report.events.all()] == [("received", True)]
    # The acknowledgement and the deduplication are queued for after the commit, not run inside it.
    assert len(callbacks) == 2
    assert report.acknowledged_at is None
    assert not DedupResult.objects.filter(report=report).exists()


def test_submit_does_not_ask_whether_the_random_status_token_is_taken():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        report = services.report_submit(title="A chatbot lied", text="It did.")
    assert queries.captured_queries and not [
        q for q in queries.captured_queries if q["sql"].startswith("SELECT") and "status_token" in q["sql"]
    ]
    assert len(report.status_token) == 32


def test_submit_refuses_a_title_that_is_too_long():
    with pytest.raises(ValidationError) as exc:
        services.report_submit(title="x" * 301, text="Too long.")

    assert "title" in exc.value.message_dict
    assert Report.objects.count() == 0


def test_submit_refuses_a_feed_item_stored_already_and_keeps_the_first(django_capture_on_commit_callbacks):
    first = services.report_submit(title="Item 7", source_name="feed", external_id="7")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ValidationError) as exc:
        services.report_submit(title="Item 7 again", source_name="feed", external_id="7")

    assert "external_id" in exc.value.message_dict
    assert list(Report.objects.values_list("pk", "title")) == [(first.pk, "Item 7")]
    assert callbacks == []  # nothing queued for the refused one
    # The same id from another source, and reports without one, are stored.
    services.report_submit(title="Item 7 elsewhere", source_name="other", external_id="7")
    services.report_submit(title="No id")
    services.report_submit(title="No id either")
    assert Report.objects.count() == 4


def test_submit_checks_no_constraint_in_python_where_the_database_keeps_it():
    """The report's one constraint is left to the database (see report_submit): a new
    constraint on Report must be checked there as well before this test is changed."""
    assert [c.name for c in Report._meta.constraints] == ["report_unique_external_id"]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        services.report_submit(title="From a feed", source_name="feed", external_id="8")
    assert not [q for q in queries.captured_queries if '"_check"' in q["sql"]]


def test_submit_refuses_bad_evidence_before_storing_anything():
    with pytest.raises(ValidationError):
        services.report_submit(title="Evil file", evidence_files=[SimpleUploadedFile("evil.png", EXE_BYTES)])

    assert Report.objects.count() == 0
    assert Evidence.objects.count() == 0


# --- Claims ----------------------------------------------------------------------


def test_claiming_puts_the_report_in_review(moderator):
    report = ReportFactory.create()

    services.report_claim(report=report, actor=moderator)

    report.refresh_from_db()
    assert report.claimed_by == moderator
    assert report.status == Report.Status.IN_REVIEW
    assert list(report.events.filter(public=True).values_list("action", flat=True)) == ["in_review"]


def test_a_claimed_report_cannot_be_claimed_by_another_moderator(moderator, other_moderator):
    report = ReportFactory.create()
    services.report_claim(report=report, actor=moderator)

    with pytest.raises(services.ClaimConflict, match=r"Another moderator is working on this report\."):
        services.report_claim(report=report, actor=other_moderator)

    report.refresh_from_db()
    assert report.claimed_by == moderator


def test_a_stale_claim_can_be_taken_over(moderator, other_moderator, settings):
    report = ReportFactory.create(
        claimed_by=moderator,
        claimed_at=timezone.now() - datetime.timedelta(minutes=settings.CLAIM_TIMEOUT_MINUTES + 1),
        status=Report.Status.IN_REVIEW,
    )

    services.report_claim(report=report, actor=other_moderator)

    report.refresh_from_db()
    assert report.claimed_by == other_moderator


def test_only_the_holder_releases_a_claim(moderator, other_moderator):
    report = ReportFactory.create()
    services.report_claim(report=report, actor=moderator)

    services.report_release(report=report, actor=other_moderator)
    assert Report.objects.get(pk=report.pk).claimed_by == moderator

    services.report_release(report=report, actor=moderator)
    assert Report.objects.get(pk=report.pk).claimed_by is None


# --- Rejecting and attaching -----------------------------------------------------


def test_rejecting_needs_a_reason(moderator):
    report = ReportFactory.create()

    with pytest.raises(ValidationError) as exc:
        services.report_reject(report=report, actor=moderator, reason="   ")

    assert "reason" in exc.value.message_dict
    assert Report.objects.get(pk=report.pk).status == Report.Status.RECEIVED


def test_rejecting_records_the_public_reason_and_frees_the_claim(moderator):
    report = ReportFactory.create()
    services.report_claim(report=report, actor=moderator)

    services.report_reject(report=report, actor=moderator, reason="Not about an AI system.")

    report.refresh_from_db()
    assert report.status == Report.Status.REJECTED
    assert report.public_reason == "Not about an AI system."
    assert report.claimed_by is None
    assert report.events.get(action="rejected").public


def test_attaching_twice_makes_one_link(moderator):
    report = ReportFactory.create()
    incident = IncidentFactory.create()

    services.report_attach(report=report, incident=incident, actor=moderator)
    services.report_attach(report=report, incident=incident, actor=moderator)

    assert ReportIncidentLink.objects.filter(report=report, incident=incident).count() == 1
    assert Revision.objects.filter(incident=incident, action="report_linked").count() == 1
    # A draft is not public yet: the report stays in review and its sender is told nothing.
    assert Report.objects.get(pk=report.pk).status == Report.Status.IN_REVIEW
    assert not report.events.filter(public=True, action__in=["linked", "published"]).exists()


def test_attaching_to_a_published_incident_accepts_the_report_and_tells_the_sender(moderator):
    report = ReportFactory.create()
    incident = published_incident()

    services.report_attach(report=report, incident=incident, actor=moderator)

    assert Report.objects.get(pk=report.pk).status == Report.Status.ACCEPTED
    assert report.events.get(action="published").detail == {"incident": incident.public_id}


def test_publishing_leaves_rejected_reports_rejected(moderator):
    incident = IncidentFactory.create(
        severity=term("oecd-severity", "incident"),
        tags=[("iasr-2025", "malfunction.bias"), ("oecd-harm-type", "human-rights")],
    )
    rejected = ReportFactory.create(status=Report.Status.REJECTED, public_reason="Not an AI system.")
    link(rejected, incident)

    services.incident_publish(incident=incident, actor=moderator)

    assert Report.objects.get(pk=rejected.pk).status == Report.Status.REJECTED


def test_attaching_to_a_merged_incident_attaches_to_its_target(moderator):
    target = IncidentFactory.create()
    merged = IncidentFactory.create(status=Incident.Status.MERGED, merged_into=target)
    report = ReportFactory.create()

    services.report_attach(report=report, incident=merged, actor=moderator)

    assert list(report.incidents.all()) == [target]


# --- Incidents -------------------------------------------------------------------


def test_new_incidents_get_consecutive_public_ids_of_this_year(moderator):
    first = services.incident_create(title="First", actor=moderator)
    second = services.incident_create(title="Second", actor=moderator)

    year = timezone.now().year
    assert re.fullmatch(rf"INC-{year}-\d{{6}}", first.public_id)
    assert int(second.public_id[-6:]) == int(first.public_id[-6:]) + 1
    assert first.status == Incident.Status.DRAFT
    assert first.revisions.get().action == "created"


def test_an_incident_from_a_report_copies_it_and_links_it(moderator):
    report = ReportFactory.create(title="Robot taxi blocked an ambulance", date_occurred=datetime.date(2024, 8, 1))
    report.taggings.create(term=term("iasr-2025", "malfunction.reliability"), source="submitter")

    incident = services.incident_create_from_report(report=report, actor=moderator)

    assert incident.title == "Robot taxi blocked an ambulance"
    assert incident.date_occurred == datetime.date(2024, 8, 1)
    assert list(incident.reports.all()) == [report]
    assert [t.term.code for t in incident.taggings.all()] == ["malfunction.reliability"]


def test_editing_records_each_changed_field_before_and_after(moderator):
    incident = IncidentFactory.create(title="Old title", countries=["FR"])

    services.incident_update(
        incident=incident,
        actor=moderator,
        title="New title",
        countries=["FR", "US"],
        severity=term("oecd-severity", "hazard"),
        date_occurred=incident.date_occurred,
    )

    revision = incident.revisions.get()
    assert revision.action == "edited"
    assert revision.actor == moderator
    assert revision.changes == {
        "title": ["Old title", "New title"],
        "countries": [["FR"], ["FR", "US"]],
        "severity": [None, "hazard"],
    }
    assert Incident.objects.get(pk=incident.pk).title == "New title"


def test_saving_without_a_change_records_no_revision(moderator):
    incident = IncidentFactory.create(title="Same")

    services.incident_update(incident=incident, actor=moderator, title="Same")

    assert not incident.revisions.exists()


def test_editing_renders_the_description_as_sanitised_markdown(moderator):
    incident = IncidentFactory.create()

    services.incident_update(
        incident=incident,
        actor=moderator,
        description='**Bold** <script>alert(1)</script> <img src="x" onerror="alert(2)"> [x](javascript:alert(3))',
    )

    stored = Incident.objects.get(pk=incident.pk).description_html
    assert "<strong>Bold</strong>" in stored
    assert "<script" not in stored
    assert "alert" not in stored
    assert "onerror" not in stored
    assert "<img" not in stored


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<a href="javascript:alert(1)">click</a>',
        '<p onclick="alert(1)">hi</p>',
        "<iframe src='https://evil.example'></iframe>",
    ],
)
def test_markdown_rendering_strips_active_content(markdown):
    rendered = render_markdown(markdown)

    for forbidden in ("<script", "onerror", "javascript:", "onclick", "<iframe"):
        assert forbidden not in rendered


def test_links_in_a_description_are_marked_nofollow():
    rendered = render_markdown("[source](https://example.org/article)")

    assert rendered == ('<p><a href="https://example.org/article" rel="nofollow noopener noreferrer">source</a></p>')


def test_tagging_records_what_was_added_and_removed(moderator):
    incident = IncidentFactory.create(tags=[("iasr-2025", "malfunction.bias")])

    services.incident_set_tags(
        incident=incident,
        actor=moderator,
        terms=[term("iasr-2025", "malfunction.reliability"), term("failure-mode", "confabulation")],
    )

    assert sorted(t.term.code for t in incident.taggings.all()) == ["confabulation", "malfunction.reliability"]
    assert incident.revisions.get().changes == {
        "tags": [["malfunction.bias"], ["confabulation", "malfunction.reliability"]]
    }


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ([("oecd-severity", "incident")], "incident cannot be used as a tag."),
        ([("oecd-autonomy", "low-action"), ("oecd-autonomy", "high-action")], "Choose only one"),
    ],
    ids=["severity-is-a-field", "one-autonomy-level"],
)
def test_tagging_refuses_terms_that_do_not_fit(moderator, terms, message):
    incident = IncidentFactory.create()

    with pytest.raises(ValidationError, match=message):
        services.incident_set_tags(incident=incident, actor=moderator, terms=[term(*t) for t in terms])

    assert not incident.taggings.exists()


# --- Publishing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "tags", "description", "problems"),
    [
        (
            None,
            [],
            "",
            ["Add at least one hazard category.", "Choose a severity.", "Write a description."],
        ),
        # A family is not enough: a category is needed.
        ("hazard", [("iasr-2025", "malfunction")], "Text.", ["Add at least one hazard category."]),
        (
            "serious-incident",
            [("iasr-2025", "malfunction.bias")],
            "Text.",
            ["An incident (harm occurred) needs at least one harm type."],
        ),
        # A hazard (no harm yet) needs no harm type.
        ("hazard", [("iasr-2025", "malfunction.bias")], "Text.", []),
        ("incident", [("iasr-2025", "malfunction.bias"), ("oecd-harm-type", "human-rights")], "Text.", []),
    ],
    ids=["nothing", "family-only", "incident-without-harm", "hazard", "complete"],
)
def test_publish_problems_are_listed_in_plain_words(severity, tags, description, problems):
    incident = IncidentFactory.create(
        severity=term("oecd-severity", severity) if severity else None, tags=tags, description=description
    )

    assert services.incident_publish_problems(incident) == problems


def test_publishing_an_incomplete_incident_is_refused(moderator):
    incident = IncidentFactory.create()

    with pytest.raises(ValidationError) as exc:
        services.incident_publish(incident=incident, actor=moderator)

    assert exc.value.messages == ["Add at least one hazard category.", "Choose a severity."]
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.DRAFT


def test_publishing_accepts_the_linked_reports_and_tells_their_senders(moderator):
    incident = IncidentFactory.create(
        severity=term("oecd-severity", "incident"),
        tags=[("iasr-2025", "malfunction.bias"), ("oecd-harm-type", "human-rights")],
    )
    with_address = ReportFactory.create(contact_email="a@example.org")
    without_address = ReportFactory.create(status=Report.Status.IN_REVIEW)
    link(with_address, incident)
    link(without_address, incident)

    services.incident_publish(incident=incident, actor=moderator)

    incident.refresh_from_db()
    assert incident.status == Incident.Status.PUBLISHED
    assert incident.published_at is not None
    assert set(Report.objects.values_list("status", flat=True)) == {Report.Status.ACCEPTED}
    # Every sender sees it on the status page; only those who gave an address are e-mailed.
    assert set(ReportEvent.objects.filter(action="published", public=True).values_list("report", flat=True)) == {
        with_address.pk,
        without_address.pk,
    }
    assert incident.revisions.get(action="published").changes == {"status": ["draft", "published"]}


def test_republishing_keeps_the_first_publication_date(moderator):
    first = timezone.now() - datetime.timedelta(days=30)
    incident = IncidentFactory.create(
        status=Incident.Status.WITHDRAWN,
        published_at=first,
        severity=term("oecd-severity", "hazard"),
        tags=[("iasr-2025", "malfunction.bias")],
    )

    services.incident_publish(incident=incident, actor=moderator)

    assert Incident.objects.get(pk=incident.pk).published_at == first


def test_withdrawing_needs_a_reason_and_records_it(moderator):
    incident = IncidentFactory.create(published=True)

    with pytest.raises(ValidationError):
        services.incident_withdraw(incident=incident, actor=moderator, reason=" ")
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.PUBLISHED

    services.incident_withdraw(incident=incident, actor=moderator, reason="Duplicate of a hoax.")

    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.WITHDRAWN
    assert incident.revisions.get(action="withdrawn").changes["reason"] == [None, "Duplicate of a hoax."]


# --- Entities --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["OpenAI", "Open AI", "openai.com", "https://www.openai.com/blog", "OpenAI, Inc.", " OPENAI "]
)
def test_names_of_one_organisation_meet_on_one_key(name):
    assert normalise_alias(name) == "openai"


def test_open_ai_and_openai_com_resolve_to_the_known_openai(moderator):
    openai = EntityFactory.create(name="OpenAI")
    first, second = IncidentFactory.create(), IncidentFactory.create()

    services.incident_add_entity(incident=first, actor=moderator, name="Open AI", kind="organisation", role="developer")
    services.incident_add_entity(
        incident=second, actor=moderator, name="openai.com", kind="organisation", role="developer"
    )

    assert Entity.objects.count() == 1
    assert list(IncidentEntity.objects.values_list("entity", flat=True)) == [openai.pk, openai.pk]


def test_an_unknown_name_creates_an_entity_with_a_unique_slug():
    EntityFactory.create(name="Acme", slug="acme-robotics")

    entity = services.entity_resolve(name="Acme Robotics", kind=Entity.Kind.SYSTEM)

    assert entity.slug == "acme-robotics-2"
    assert entity.kind == Entity.Kind.SYSTEM
    assert list(entity.aliases.values_list("key", flat=True)) == ["acmerobotics"]


def test_a_name_without_letters_is_refused():
    with pytest.raises(ValidationError):
        services.entity_resolve(name=" -- ")

    assert Entity.objects.count() == 0


def test_an_alias_cannot_name_two_entities():
    EntityFactory.create(name="OpenAI")
    other = EntityFactory.create(name="Anthropic")

    with pytest.raises(ValidationError, match="already names OpenAI"):
        services.entity_add_alias(entity=other, alias="openai.com")

    assert EntityAlias.objects.filter(entity=other).count() == 1


def test_adding_an_entity_twice_links_it_once(moderator):
    incident = IncidentFactory.create()

    for _ in range(2):
        services.incident_add_entity(
            incident=incident, actor=moderator, name="Tesla", kind="organisation", role="developer"
        )

    assert incident.entity_links.count() == 1
    assert incident.revisions.filter(action="entity_added").count() == 1


def test_removing_an_entity_records_a_revision(moderator):
    incident = IncidentFactory.create()
    added = services.incident_add_entity(
        incident=incident, actor=moderator, name="Tesla", kind="organisation", role="deployer"
    )

    services.incident_remove_entity(incident=incident, actor=moderator, link_id=added.pk)

    assert not incident.entity_links.exists()
    assert incident.revisions.get(action="entity_removed").changes == {"entities": ["Tesla (deployer)", None]}
