"""Moderators and the deduplication engine's results: candidates with reasons,
side-by-side comparison, "same incident" / "not a duplicate", undoing an
automatic link. The results are stored as the task stores them."""

import pytest

from incidents import services
from incidents.models import DedupResult, PairVerdict, Report, ReportIncidentLink

from ..factories import IncidentFactory, ReportFactory, published_incident
from .test_moderation import assert_done, post
from .test_reporting import visible_text

pytestmark = pytest.mark.django_db


def suggested(report, *incidents, decision="suggest"):
    candidates = [
        {
            "incident": incident.pk,
            "score": round(0.8 - n / 10, 2),
            "reasons": {
                "same_url": False,
                "shared_entities": ["Tesla"],
                "matching_phrases": ["autopilot", "crash"],
                "date_gap_days": 3,
            },
        }
        for n, incident in enumerate(incidents)
    ]
    return DedupResult.objects.create(
        report=report,
        state=DedupResult.State.DONE,
        decision=decision,
        incident=incidents[0],
        score=candidates[0]["score"],
        candidates=candidates,
        engine_version="test",
    )


def test_report_page_shows_candidates_with_score_and_reasons(mod_client):
    report = ReportFactory.create(title="Autopilot crash on a highway")
    first = IncidentFactory.create(title="Tesla on Autopilot hits a truck")
    second = IncidentFactory.create(title="Robotaxi blocks an ambulance")
    suggested(report, first, second)

    text = visible_text(mod_client.get(f"/moderation/reports/{report.pk}/"))

    assert "Possible duplicates" in text
    assert text.index("Tesla on Autopilot hits a truck") < text.index("Robotaxi blocks an ambulance")
    assert "0.80" in text
    assert "Shared organisations or systems: Tesla" in text
    assert "Matching words: autopilot, crash" in text
    assert "Dates 3 days apart" in text


def test_queue_shows_the_suggestion(mod_client, django_assert_max_num_queries):
    for n in range(5):
        report = ReportFactory.create(title=f"Report {n}")
        suggested(report, IncidentFactory.create(title=f"Incident {n}"))

    with django_assert_max_num_queries(6):
        response = mod_client.get("/moderation/")

    assert "Possible duplicate of INC-" in visible_text(response)


def test_compare_page_shows_both_sides(mod_client):
    report = ReportFactory.create(title="Autopilot crash on a highway", text="The car hit a barrier.")
    incident = IncidentFactory.create(title="Tesla on Autopilot hits a barrier", description="A Model S crashed.")
    suggested(report, incident)

    text = visible_text(mod_client.get(f"/moderation/reports/{report.pk}/compare/{incident.pk}/"))

    assert "Autopilot crash on a highway" in text
    assert "The car hit a barrier." in text
    assert "Tesla on Autopilot hits a barrier" in text
    assert "scored the pair 0.80" in text


def test_same_incident_attaches_and_remembers(mod_client, moderator, htmx):
    report = ReportFactory.create()
    incident = published_incident()
    suggested(report, incident)

    response = post(mod_client, f"/moderation/reports/{report.pk}/same/{incident.pk}/", htmx=htmx)

    assert_done(response, htmx=htmx, redirect_to=f"/moderation/reports/{report.pk}/", fragment=incident.public_id)
    assert ReportIncidentLink.objects.filter(report=report, incident=incident).exists()
    assert PairVerdict.objects.get(report=report, incident=incident).verdict == PairVerdict.Verdict.SAME
    assert Report.objects.get(pk=report.pk).status == Report.Status.ACCEPTED


def test_not_a_duplicate_is_remembered_and_never_suggested_again(mod_client, htmx):
    report = ReportFactory.create()
    wrong = IncidentFactory.create(title="A different event")
    right = IncidentFactory.create(title="The right event")
    suggested(report, wrong, right)

    post(mod_client, f"/moderation/reports/{report.pk}/different/{wrong.pk}/", htmx=htmx)

    assert PairVerdict.objects.get(report=report, incident=wrong).verdict == PairVerdict.Verdict.DIFFERENT
    text = visible_text(mod_client.get(f"/moderation/reports/{report.pk}/"))
    assert "A different event" not in text
    assert "The right event" in text
    result = DedupResult.objects.get(report=report)
    assert result.incident_id == right.pk
    assert [c["incident"] for c in result.candidates] == [right.pk]


def test_an_automatic_link_can_be_undone_and_is_remembered(mod_client, htmx):
    report = ReportFactory.create()
    incident = IncidentFactory.create()
    suggested(report, incident, decision="auto_link")
    services.report_link_auto(report=report, incident_id=incident.pk, score=0.97)
    link = ReportIncidentLink.objects.get(report=report)
    assert (link.method, link.confirmed, link.score) == ("dedup", False, 0.97)
    assert "Linked automatically by the deduplication engine (score 0.97)" in visible_text(
        mod_client.get(f"/moderation/reports/{report.pk}/")
    )

    post(mod_client, f"/moderation/reports/{report.pk}/different/{incident.pk}/", htmx=htmx)

    assert not ReportIncidentLink.objects.filter(report=report).exists()
    assert PairVerdict.objects.get(report=report, incident=incident).verdict == PairVerdict.Verdict.DIFFERENT
    assert report.events.filter(action="link_undone").exists()
    assert Report.objects.filter(pk=report.pk).exists(), "undoing a link never deletes the report"


def test_an_automatic_link_can_be_confirmed(mod_client, htmx):
    report = ReportFactory.create()
    incident = published_incident()
    services.report_link_auto(report=report, incident_id=incident.pk, score=0.97)
    link = ReportIncidentLink.objects.get(report=report)

    post(mod_client, f"/moderation/reports/{report.pk}/links/{link.pk}/confirm/", htmx=htmx)

    link.refresh_from_db()
    assert link.confirmed
    assert link.method == ReportIncidentLink.Method.DEDUP
    assert Report.objects.get(pk=report.pk).status == Report.Status.ACCEPTED


def test_unconfirmed_automatic_links_are_not_public(client):
    report = ReportFactory.create(title="Auto-linked but unchecked")
    incident = published_incident()
    services.report_link_auto(report=report, incident_id=incident.pk, score=0.97)

    assert "Auto-linked but unchecked" not in visible_text(client.get(incident.get_absolute_url()))


@pytest.mark.parametrize("path", ["same/{i}/", "different/{i}/", "compare/{i}/"])
def test_duplicate_actions_are_for_moderators_only(client, public_user, path):
    report = ReportFactory.create()
    incident = IncidentFactory.create()
    url = f"/moderation/reports/{report.pk}/" + path.format(i=incident.pk)
    method = client.get if path.startswith("compare") else client.post

    assert method(url).status_code == 302  # anonymous: to the login page
    client.force_login(public_user)
    assert method(url).status_code == 403
    assert not PairVerdict.objects.exists()


# --- The public form: "Is it one of these?" ------------------------------------------


def index_published(title, text="", **kwargs):
    """A published incident whose report is in the deduplication index."""
    incident = published_incident(title=title, **kwargs)
    report = services.report_submit(title=title, text=text, channel=Report.Channel.FEED)
    services.report_attach(report=report, incident=incident, actor=None)
    return incident


def test_the_form_shows_similar_published_incidents_while_typing(client):
    uber = index_published(
        "Uber self-driving car kills a pedestrian in Tempe", "An autonomous Uber struck a woman crossing the road."
    )
    draft = IncidentFactory.create(title="Uber self-driving car kills a pedestrian (draft copy)")
    report = services.report_submit(title=draft.title, text="Draft only.", channel=Report.Channel.FEED)
    services.report_attach(report=report, incident=draft, actor=None)

    response = client.get(
        "/report/similar/",
        {"title": "Self-driving Uber killed a pedestrian", "text": "A woman was hit in Tempe"},
        HTTP_HX_REQUEST="true",
    )

    text = visible_text(response)
    assert "Is it one of these?" in text
    assert uber.public_id in text
    assert draft.public_id not in text, "only published incidents are suggested"


def test_the_similar_incidents_lookup_is_rate_limited(client, ratelimit_clock):
    index_published("Chatbot invents a refund policy", "An airline chatbot made up a bereavement discount.")
    statuses = [
        client.get(
            "/report/similar/", {"title": "chatbot invents refund policy"}, REMOTE_ADDR="203.0.113.9"
        ).status_code
        for _ in range(31)
    ]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 204


def test_a_report_can_say_it_is_about_a_suggested_incident(client):
    incident = index_published("Chatbot invents a refund policy", "An airline chatbot made up a discount.")

    client.post(
        "/report/",
        {
            "title": "Airline bot lied about refunds",
            "text": "It promised a refund.",
            "consent": "on",
            "same_as": incident.public_id,
        },
    )

    report = Report.objects.get(title="Airline bot lied about refunds")
    assert report.events.get(action="sender_says_same_as").detail == {"incident": incident.public_id}
