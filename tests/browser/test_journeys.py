"""The journeys people take, end to end, in headless Chromium on a live server.

A visitor reports an incident, a moderator turns the report into a published
incident, and another visitor finds and reads it; plus the report form's inline
checks and the skip link. Nothing is mocked: the browser talks to the real views.
"""

import datetime
import re
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from incidents.models import Incident, Report
from tests.factories import published_incident

from .conftest import assert_no_reload, htmx_settled, mark_page, sign_in, verified

# The live server needs a transactional database, which is emptied after each
# test; serialized_rollback puts the migrated data (taxonomy terms, role groups,
# site) back, for these tests and for any test that runs after them.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TITLE = "Hospital triage chatbot told a patient with chest pain to stay home"
DESCRIPTION = "The symptom checker classified crushing chest pain as indigestion and advised rest."


def evidence_png(tmp_path: Path) -> Path:
    path = tmp_path / "chatbot-answer.png"
    image = Image.new("RGB", (320, 120), "white")
    ImageDraw.Draw(image).text((10, 50), "Chatbot: stay home and rest", fill="black")
    image.save(path, "PNG")
    return path


def submit_report(page: Page, tmp_path: Path) -> None:
    """(a) A visitor, not signed in, fills in and sends the report form."""
    page.goto("/report/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Report an AI incident or hazard")
    page.get_by_label("In one sentence, what happened?").fill(TITLE)
    page.get_by_label("Tell us what happened").fill(DESCRIPTION)
    page.get_by_label("When did it happen?").fill("2025-03-14")
    page.get_by_label("Where did it happen?").select_option(["GB"])
    page.get_by_label("Which AI system or company was involved?").fill("TriageBot by ExampleHealth")
    page.get_by_label("What harm did it cause").fill("The patient delayed going to hospital by a day.")
    page.get_by_label("Reliability issues").check()
    page.get_by_label("Evidence (optional)").set_input_files(evidence_png(tmp_path))
    page.get_by_label("I agree that Incident Commons may review this report").check()
    page.get_by_role("button", name="Send report").click()

    expect(page).to_have_url(re.compile(r"/report/status/[^/]+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.locator(".status-label")).to_contain_text("Received")
    expect(page.get_by_text("Thank you. Your report was received.")).to_be_visible()

    report = Report.objects.get(title=TITLE)
    assert report.submitter is None
    assert [e.original_name for e in report.evidence.all()] == ["chatbot-answer.png"]
    assert [t.term.code for t in report.taggings.select_related("term")] == ["malfunction.reliability"]


def moderate_and_publish(page: Page, moderator) -> Incident:
    """(b) A moderator claims the report, opens an incident, tags and publishes it."""
    sign_in(page, verified(moderator))
    page.get_by_role("link", name="Moderation").click()
    expect(page).to_have_url(re.compile(r"/moderation/$"))
    page.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.get_by_text("chatbot-answer.png")).to_be_visible()

    mark_page(page)
    page.get_by_role("button", name="Claim this report").click()
    expect(page.get_by_text(f"Claimed by {moderator.email}")).to_be_visible()
    expect(page.locator("#report-actions .badge")).to_have_text("In review")
    assert_no_reload(page)
    htmx_settled(page)

    # Opening an incident moves to its workspace (an htmx client redirect).
    page.get_by_role("button", name="Open a new incident from this report").click()
    expect(page).to_have_url(re.compile(r"/moderation/incidents/\d+/$"))
    incident = Incident.objects.get(links__report__title=TITLE)
    workspace = page.locator("#workspace")
    expect(workspace.locator(".badge")).to_have_text("Draft")
    expect(workspace.get_by_text("Choose a severity.")).to_be_visible()
    htmx_settled(page)

    mark_page(page)
    tags = workspace.locator(".tag-form")
    # The submitter's guess is carried over; the moderator adds another category and a harm type.
    expect(tags.get_by_label("Reliability issues")).to_be_checked()
    tags.get_by_label("Bias", exact=True).check()
    tags.get_by_label("Physical injury").check()
    tags.get_by_role("button", name="Save tags").click()
    expect(workspace.get_by_text("Tags saved.")).to_be_visible()
    htmx_settled(page)

    workspace.get_by_label("Severity").select_option(label="Incident")
    workspace.get_by_role("button", name="Save details").click()
    expect(workspace.get_by_text("Changes saved.")).to_be_visible()
    expect(workspace.get_by_text("Ready to publish.")).to_be_visible()
    htmx_settled(page)

    workspace.get_by_role("button", name="Publish", exact=True).click()
    expect(workspace.locator(".workspace-head .badge")).to_have_text("Published")
    expect(workspace.get_by_text(f"{incident.public_id} is published.")).to_be_visible()
    assert_no_reload(page)

    incident.refresh_from_db()
    assert incident.status == Incident.Status.PUBLISHED
    assert incident.severity is not None and incident.severity.code == "incident"
    assert set(incident.taggings.values_list("term__code", flat=True)) == {
        "malfunction.reliability",
        "malfunction.bias",
        "physical-injury",
    }
    assert Report.objects.get(title=TITLE).status == Report.Status.ACCEPTED
    return incident


def find_and_read(page: Page, incident: Incident) -> None:
    """(c) Another visitor finds the incident by search and by facet, and reads it."""
    other = published_incident(
        title="Voice clone used to defraud a bank",
        description="Criminals cloned a director's voice.",
        tags=[("iasr-2025", "malicious-use.fake-content"), ("oecd-harm-type", "economic-property")],
    )
    page.goto("/incidents/")
    results = page.locator("#results")
    expect(results.get_by_role("status")).to_have_text("2 incidents found")

    mark_page(page)
    page.get_by_label("Search").press_sequentially("chest pain")
    expect(results.get_by_role("status")).to_have_text("1 incident found")
    expect(results.get_by_role("link", name=TITLE)).to_be_visible()
    expect(results.get_by_role("link", name=other.title)).to_have_count(0)
    expect(page).to_have_url(re.compile(r"[?&]q=chest"))
    assert_no_reload(page)
    htmx_settled(page)

    page.get_by_label("Search").fill("")
    expect(results.get_by_role("status")).to_have_text("2 incidents found")
    htmx_settled(page)
    page.get_by_label("Hazard category").select_option(label="— Bias")
    expect(results.get_by_role("status")).to_have_text("1 incident found")
    expect(results.get_by_role("link", name=TITLE)).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]hazard=malfunction.bias"))
    htmx_settled(page)
    page.get_by_label("Hazard category").select_option(label="— Harm to individuals through fake content")
    expect(results.get_by_role("link", name=other.title)).to_be_visible()
    expect(results.get_by_role("link", name=TITLE)).to_have_count(0)
    assert_no_reload(page)
    htmx_settled(page)

    page.get_by_label("Hazard category").select_option(label="— Reliability issues")
    results.get_by_role("link", name=TITLE).click()
    expect(page).to_have_url(re.compile(rf"/incidents/{incident.public_id}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.get_by_text(DESCRIPTION)).to_be_visible()
    classified = page.locator(".tag-explanations")
    for label in ("Reliability issues", "Bias", "Physical injury", "Incident"):
        expect(classified.get_by_role("link", name=label, exact=True)).to_be_visible()
    expect(classified).to_contain_text("Hazard categories")
    # Each tag comes with its plain-language explanation.
    expect(classified.locator("dd").first).not_to_be_empty()
    cite = page.get_by_role("region", name="Cite this incident")
    expect(cite).to_contain_text(f"{incident.public_id}.")
    expect(cite).to_contain_text(f"/incidents/{incident.public_id}/")
    # The evidence file stays private.
    expect(page.get_by_text("chatbot-answer.png")).to_have_count(0)


@pytest.mark.browser
def test_a_report_goes_from_visitor_to_moderator_to_the_public_catalogue(new_page, moderator, tmp_path):
    submit_report(new_page(), tmp_path)
    incident = moderate_and_publish(new_page(), moderator)
    find_and_read(new_page(), incident)


@pytest.mark.browser
def test_report_form_shows_inline_errors_without_a_reload(page: Page):
    page.goto("/report/")
    mark_page(page)

    title = page.get_by_label("In one sentence, what happened?")
    title.fill("Something")
    # Leaving the field validates it; let that answer swap in before editing again.
    with page.expect_response("**/report/validate/title/"):
        title.press("Tab")
    htmx_settled(page)
    title.fill("")
    title.press("Tab")
    expect(page.locator("#field-title .field-error")).to_contain_text("This field is required.")
    expect(page.locator("#field-title")).to_have_class(re.compile(r"\bhas-error\b"))
    htmx_settled(page)

    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    date = page.get_by_label("When did it happen?")
    date.fill(tomorrow.isoformat())
    date.press("Tab")
    expect(page.locator("#field-date_occurred .field-error")).to_contain_text("That date is in the future")
    htmx_settled(page)

    # Correcting a field clears its error, still without a reload.
    date = page.get_by_label("When did it happen?")
    date.fill("2024-11-02")
    date.press("Tab")
    expect(page.locator("#field-date_occurred .field-error")).to_have_count(0)
    expect(page.locator("#field-title .field-error")).to_have_count(1)
    assert_no_reload(page)

    # Sending the incomplete form reloads it with an error summary; nothing is stored.
    page.get_by_role("button", name="Send report").click()
    summary = page.get_by_role("alert").filter(has_text="Please check your report")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Please agree, so that we may use your report.")
    assert not Report.objects.exists()


@pytest.mark.browser
def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(page: Page):
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    # The next Tab continues inside main, not back in the header.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")


def test_the_form_suggests_a_matching_published_incident_while_typing(page: Page):
    from incidents import services

    incident = published_incident(title="Uber AV killed a pedestrian in Arizona")
    article = services.report_submit(
        title="Self-driving Uber kills a woman crossing the street in Tempe",
        text="An autonomous Uber test car struck and killed a pedestrian in Tempe, Arizona.",
        channel=Report.Channel.FEED,
    )
    services.report_attach(report=article, incident=incident, actor=None)

    page.goto("/report/")
    mark_page(page)
    page.get_by_label("In one sentence, what happened?").fill("Uber self-driving car killed a pedestrian")
    page.get_by_label("Tell us what happened").fill("An autonomous Uber hit a woman crossing the street in Tempe")

    hint = page.get_by_role("region", name="Similar incidents")
    expect(hint).to_contain_text("Is it one of these?", timeout=10_000)
    expect(hint).to_contain_text(incident.public_id)
    assert_no_reload(page)
    hint.get_by_label("My report is about this incident").check()
    page.get_by_label("I agree that Incident Commons may review this report").check()
    page.get_by_role("button", name="Send report").click()

    expect(page).to_have_url(re.compile(r"/report/status/[^/]+/$"))
    report = Report.objects.get(title="Uber self-driving car killed a pedestrian")
    assert report.events.get(action="sender_says_same_as").detail == {"incident": incident.public_id}
