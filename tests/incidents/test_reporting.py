"""The public report form, its inline validation, the rate limit, the private
status page, the e-mails to the submitter and "My reports"."""

import datetime
import html
import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from incidents import services, tasks
from incidents.models import Evidence, Report, ReportEvent

from ..factories import ReportFactory, UserFactory, term
from .test_evidence import EXE_BYTES, pdf_bytes, png_bytes

VALID = {
    "title": "A chatbot invented a refund policy",
    "text": "The airline's chatbot promised a refund the airline does not offer.",
    "consent": "on",
}
SCRIPT = "<script>alert(1)</script>"


def visible_text(response) -> str:
    """A page as a person reads it: without tags, entities decoded, spaces collapsed."""
    content = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", content)).split())


def submit(client, **changes):
    """POST the report form: VALID with ``changes``; a change to None leaves the field out."""
    data = {**VALID, **changes}
    return client.post("/report/", {name: value for name, value in data.items() if value is not None})


def days_from_today(days: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=days)).isoformat()


def publish_from_report(report: Report, moderator) -> str:
    """Open an incident from ``report``, tag it as publishing requires and publish it; its public page."""
    incident = services.incident_create_from_report(report=report, actor=moderator)
    services.incident_update(incident=incident, actor=moderator, severity=term("oecd-severity", "incident"))
    services.incident_set_tags(
        incident=incident,
        actor=moderator,
        terms=[term("iasr-2025", "malfunction.reliability"), term("oecd-harm-type", "economic-property")],
    )
    services.incident_publish(incident=incident, actor=moderator)
    return incident.get_absolute_url()


# --- A good report -------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_report_is_received_and_its_status_page_shows_it(client):
    response = submit(client, date_occurred="2025-03-02", countries=["FR", "DE"], submitter_role="affected")

    report = Report.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/report/status/{report.status_token}/"
    assert report.channel == Report.Channel.WEB
    assert report.status == Report.Status.RECEIVED
    assert report.submitter is None
    assert report.title == VALID["title"]
    assert report.date_occurred == datetime.date(2025, 3, 2)
    assert sorted(c.code for c in report.countries) == ["DE", "FR"]

    page = client.get(response["Location"])

    assert page.status_code == 200
    text = visible_text(page)
    assert "Status: Received" in text
    assert "Thank you. Your report was received." in text
    assert "Your report was received." in text


@pytest.mark.django_db
def test_signed_in_report_records_who_sent_it(client, public_user):
    client.force_login(public_user)

    submit(client)

    assert Report.objects.get().submitter == public_user


@pytest.mark.django_db
def test_unknown_status_token_is_not_found(client):
    ReportFactory.create()

    assert client.get("/report/status/not-a-token/").status_code == 404


@pytest.mark.django_db
def test_submitter_hazard_guess_is_kept_with_the_report(client):
    guess = term("iasr-2025", "malfunction.bias")

    submit(client, hazard_guesses=[str(guess.pk)])

    tagging = Report.objects.get().taggings.get()
    assert tagging.term == guess
    assert tagging.source == "submitter"


# --- Bad input -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ""}, "In one sentence, what happened?: This field is required."),
        ({"text": "   "}, "Tell us what happened: This field is required."),
        ({"consent": None}, "Please agree, so that we may use your report."),
        ({"date_occurred": "last spring"}, "Enter a valid date."),
        ({"date_occurred": "31/02/2024"}, "Enter a valid date."),
        # Far enough ahead to stay in the future if the run crosses midnight.
        ({"date_occurred": days_from_today(7)}, "That date is in the future. When did it happen?"),
        ({"date_occurred": "1066-10-14"}, "Please check the year."),
        ({"contact_email": "not an address"}, "Enter a valid email address."),
        ({"links": "https://example.org/a\nsee my blog"}, "These are not web addresses"),
        ({"website": "https://spam.example"}, "This form looks as if a program filled it in."),
    ],
    ids=[
        "no-title",
        "blank-text",
        "no-consent",
        "not-a-date",
        "impossible-date",
        "future-date",
        "implausible-year",
        "bad-email",
        "bad-link",
        "honeypot",
    ],
)
def test_it_rejects_bad_input_with_a_clear_error_and_stores_nothing(client, changes, message):
    response = submit(client, **changes)

    assert response.status_code == 400
    assert message in visible_text(response)
    assert "Please check your report" in visible_text(response)
    assert Report.objects.count() == 0
    assert ReportEvent.objects.count() == 0


@pytest.mark.django_db
def test_it_keeps_what_was_typed_when_the_form_is_sent_back(client):
    response = submit(
        client,
        title="Robot vacuum mapped my flat",
        text="It uploaded a floor plan.",
        ai_system="Roomba",
        consent=None,
    )

    assert response.status_code == 400
    text = response.content.decode()
    assert 'value="Robot vacuum mapped my flat"' in text
    assert "It uploaded a floor plan." in text
    assert 'value="Roomba"' in text
    assert "Everything you typed is still here." in visible_text(response)


@pytest.mark.django_db
def test_it_rejects_oversized_upload(client, tmp_path):
    big = tmp_path / "big.png"
    with big.open("wb") as out:
        out.write(png_bytes())
        out.truncate(50 * 1024 * 1024)  # zeros up to 50 MB

    with big.open("rb") as upload:
        response = submit(client, evidence=upload)

    assert response.status_code == 400
    assert "“big.png” is 50.0 MB; files can be at most 10.0 MB." in visible_text(response)
    assert Report.objects.count() == 0
    assert Evidence.objects.count() == 0


@pytest.mark.django_db
def test_it_rejects_an_executable_named_png(client):
    upload = SimpleUploadedFile("evil.png", EXE_BYTES, content_type="image/png")

    response = submit(client, evidence=upload)

    assert response.status_code == 400
    assert "“evil.png” is not an image (PNG, JPEG, GIF, WebP) or a PDF." in visible_text(response)
    assert Report.objects.count() == 0
    assert Evidence.objects.count() == 0


@pytest.mark.django_db
def test_it_stores_an_image_and_a_pdf_as_evidence_with_the_detected_type(client):
    files = [
        SimpleUploadedFile("screenshot.png", png_bytes(), content_type="application/octet-stream"),
        SimpleUploadedFile("letter.pdf", pdf_bytes(), content_type="application/octet-stream"),
    ]

    response = submit(client, evidence=files)

    assert response.status_code == 302
    stored = {e.original_name: e.content_type for e in Report.objects.get().evidence.all()}
    assert stored == {"screenshot.png": "image/png", "letter.pdf": "application/pdf"}


@pytest.mark.django_db
def test_it_refuses_more_files_than_allowed(client, settings):
    settings.EVIDENCE_MAX_FILES = 1
    files = [SimpleUploadedFile(f"shot{n}.png", png_bytes()) for n in range(2)]

    response = submit(client, evidence=files)

    assert response.status_code == 400
    assert "Attach at most 1 files." in visible_text(response)
    assert Report.objects.count() == 0


# --- Script in the text, private contact address -------------------------------


@pytest.mark.django_db
def test_script_in_a_report_is_stored_as_text_and_never_runs(client, moderator):
    title = f"{SCRIPT} chatbot leaked data"
    body = f'{SCRIPT}\n\n<img src="x" onerror="alert(2)">\n\nThe **chatbot** leaked data.'
    submit(client, title=title, text=body)
    report = Report.objects.get()
    assert report.title == title
    assert report.text == body

    status_page = client.get(report.get_status_url()).content.decode()

    assert SCRIPT not in status_page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; chatbot leaked data" in status_page

    incident_page = client.get(publish_from_report(report, moderator)).content.decode()

    incident = report.incidents.get()
    assert "<script" not in incident.description_html
    assert "alert(1)" not in incident.description_html
    assert "onerror" not in incident.description_html
    assert "<strong>chatbot</strong>" in incident.description_html
    assert SCRIPT not in incident_page
    assert "onerror" not in incident_page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; chatbot leaked data" in incident_page


@pytest.mark.django_db
def test_contact_email_is_never_shown_publicly(client, moderator):
    submit(client, contact_email="private.person@example.org")
    report = Report.objects.get()
    assert report.contact_email == "private.person@example.org"

    status_page = client.get(report.get_status_url())
    incident_page = client.get(publish_from_report(report, moderator))

    assert status_page.status_code == incident_page.status_code == 200
    assert "we will also e-mail you" in visible_text(status_page)
    assert b"private.person" not in status_page.content
    assert b"private.person" not in incident_page.content


# --- Inline validation (htmx) ------------------------------------------------------


@pytest.mark.django_db
def test_inline_validation_returns_the_field_with_its_error(client):
    response = client.post(
        "/report/validate/date_occurred/", {"date_occurred": days_from_today(1)}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert 'id="field-date_occurred"' in response.content.decode()
    assert "<html" not in response.content.decode()
    assert "Error: That date is in the future. When did it happen?" in visible_text(response)


@pytest.mark.django_db
def test_inline_validation_of_a_good_value_shows_no_error(client):
    response = client.post("/report/validate/title/", {"title": "A chatbot lied"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert 'value="A chatbot lied"' in response.content.decode()
    assert "Error:" not in visible_text(response)


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["nonsense", "website", "consent", "evidence"])
def test_inline_validation_of_an_unknown_or_private_field_is_not_found(client, field):
    response = client.post(f"/report/validate/{field}/", {field: "x"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 404


# --- Rate limit --------------------------------------------------------------------


@pytest.fixture
def two_an_hour(settings, ratelimit_clock):
    settings.REPORT_RATE_LIMIT = "2/h"


@pytest.mark.django_db
def test_third_anonymous_report_from_one_address_is_refused(client, two_an_hour):
    for n in range(2):
        response = client.post("/report/", {**VALID, "title": f"Report {n}"}, REMOTE_ADDR="203.0.113.7")
        assert response.status_code == 302

    response = client.post("/report/", {**VALID, "title": "Report that waits"}, REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 429
    assert "Too many reports were sent from your network in a short time." in visible_text(response)
    assert 'value="Report that waits"' in response.content.decode()
    assert Report.objects.count() == 2


@pytest.mark.django_db
def test_correcting_a_form_does_not_use_up_the_rate_limit(client, two_an_hour):
    for _ in range(3):
        response = client.post("/report/", {**VALID, "consent": ""}, REMOTE_ADDR="203.0.113.7")
        assert response.status_code == 400

    statuses = [client.post("/report/", VALID, REMOTE_ADDR="203.0.113.7").status_code for _ in range(2)]

    assert statuses == [302, 302]
    assert Report.objects.count() == 2


@pytest.mark.django_db
def test_rate_limit_does_not_apply_to_another_address(client, two_an_hour):
    for n in range(2):
        client.post("/report/", {**VALID, "title": f"Report {n}"}, REMOTE_ADDR="203.0.113.7")

    response = client.post("/report/", VALID, REMOTE_ADDR="198.51.100.20")

    assert response.status_code == 302
    assert Report.objects.count() == 3


@pytest.mark.django_db
def test_rate_limit_does_not_apply_to_signed_in_users(client, public_user, two_an_hour):
    client.force_login(public_user)

    statuses = [client.post("/report/", VALID, REMOTE_ADDR="203.0.113.7").status_code for _ in range(4)]

    assert statuses == [302, 302, 302, 302]
    assert Report.objects.filter(submitter=public_user).count() == 4


# --- E-mails to the submitter -------------------------------------------------------


@pytest.mark.django_db
def test_a_report_with_an_address_is_acknowledged_by_email(client, eager_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        submit(client, contact_email="reporter@example.org")

    report = Report.objects.get()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["reporter@example.org"]
    assert message.subject == f"We received your report “{report.title}”"
    assert report.get_status_url() in message.body
    assert report.acknowledged_at is not None


@pytest.mark.django_db
def test_a_report_without_an_address_sends_no_email(client, eager_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        submit(client)

    assert mail.outbox == []
    assert Report.objects.get().acknowledged_at is not None


@pytest.mark.django_db
def test_acknowledging_twice_sends_one_email():
    report = ReportFactory.create(contact_email="reporter@example.org")

    first = tasks.report_received(report.pk)
    second = tasks.report_received(report.pk)

    assert (first, second) == ("acknowledged", "already-acknowledged")
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_report_without_an_address_is_acknowledged_once_in_one_statement(django_assert_num_queries):
    report = ReportFactory.create(contact_email="")

    with django_assert_num_queries(1):
        first = tasks.report_received(report.pk)
    second = tasks.report_received(report.pk)

    assert (first, second) == ("no-address", "already-acknowledged")
    assert Report.objects.get(pk=report.pk).acknowledged_at is not None
    assert mail.outbox == []


@pytest.mark.django_db
def test_rejecting_emails_the_reason_to_the_submitter(
    client, moderator, eager_tasks, django_capture_on_commit_callbacks
):
    report = ReportFactory.create(contact_email="reporter@example.org")
    client.force_login(moderator)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/moderation/reports/{report.pk}/reject/", {"reason": "This happened before AI was involved."})

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["reporter@example.org"]
    assert message.subject.startswith("Update on your report")
    assert "Your report was not accepted." in message.body
    assert "This happened before AI was involved." in message.body
    assert report.get_status_url() in message.body


@pytest.mark.django_db
def test_a_status_change_is_emailed_only_once(moderator):
    report = ReportFactory.create(contact_email="reporter@example.org")
    services.report_reject(report=report, actor=moderator, reason="Not about AI.")
    event = report.events.get(action="rejected")

    results = [tasks.report_status_notify(event.pk), tasks.report_status_notify(event.pk)]

    assert results == ["notified", "already-notified"]
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_rejected_report_shows_the_reason_on_its_status_page(client, moderator):
    report = ReportFactory.create()
    services.report_reject(report=report, actor=moderator, reason="We could not find <b>any</b> source.")

    response = client.get(report.get_status_url())

    assert "We could not find &lt;b&gt;any&lt;/b&gt; source." in response.content.decode()
    text = visible_text(response)
    assert "Status: Rejected" in text
    assert "Your report was not accepted." in text


# --- My reports -----------------------------------------------------------------------


@pytest.mark.django_db
def test_signed_in_user_sees_their_own_reports_only(client, public_user):
    ReportFactory.create(submitter=public_user, title="My chatbot report", status=Report.Status.REJECTED)
    ReportFactory.create(submitter=UserFactory.create(), title="Somebody else's report")
    ReportFactory.create(title="An anonymous report")
    client.force_login(public_user)

    response = client.get("/report/mine/")

    assert response.status_code == 200
    text = visible_text(response)
    assert "My chatbot report" in text
    assert "Rejected" in text
    assert "Somebody else" not in text
    assert "An anonymous report" not in text


@pytest.mark.django_db
def test_my_reports_says_so_when_there_are_none(client, public_user):
    client.force_login(public_user)

    assert "You have not sent a report while signed in." in visible_text(client.get("/report/mine/"))


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in_for_my_reports(client):
    response = client.get("/report/mine/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/report/mine/"
