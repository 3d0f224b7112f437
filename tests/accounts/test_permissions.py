"""Who may see and do what: the table in docs/roles.md, enforced.

Roles are Django groups (moderator, auditor, regulator). Staff use the Django
admin; moderating needs the moderator role, so staff without it get 403 on
the moderation pages like any other signed-in person.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from incidents import services
from incidents.models import Incident, IncidentEntity, Report, ReportEvent, ReportIncidentLink, Revision, Tagging

from ..factories import IncidentFactory, published_incident, term
from ..incidents.test_evidence import png_bytes

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "public_user", "auditor", "regulator", "moderator", "staff"]

# What each kind of page answers, per role. "login" is a redirect to the sign-in
# page, "admin-login" to the admin's.
EVERYONE = dict.fromkeys(ROLES, 200)
SIGNED_IN = {**EVERYONE, "anonymous": "login"}
MODERATORS = {**dict.fromkeys(ROLES, 403), "anonymous": "login", "moderator": 200}
STAFF = {**dict.fromkeys(ROLES, "admin-login"), "staff": 200}

PAGES = [
    ("home", "/", EVERYONE),
    ("report form", "/report/", EVERYONE),
    ("report status", "/report/status/{token}/", EVERYONE),
    ("catalogue", "/incidents/", EVERYONE),
    ("incident", "/incidents/{public_id}/", EVERYONE),
    ("taxonomy", "/taxonomy/", EVERYONE),
    ("taxonomy term", "/taxonomy/iasr-2025/malfunction.bias/", EVERYONE),
    ("api root", "/api/v1/", EVERYONE),
    ("my reports", "/report/mine/", SIGNED_IN),
    ("moderation queue", "/moderation/", MODERATORS),
    ("moderation report", "/moderation/reports/{report}/", MODERATORS),
    ("attach search", "/moderation/reports/{report}/attach/search/?q=chatbot", MODERATORS),
    ("moderation incidents", "/moderation/incidents/", MODERATORS),
    ("moderation incident", "/moderation/incidents/{draft}/", MODERATORS),
    ("merge search", "/moderation/incidents/{draft}/merge/search/?q=chatbot", MODERATORS),
    ("merge confirmation", "/moderation/incidents/{draft}/merge/into/{published}/", MODERATORS),
    ("evidence download", "/moderation/evidence/{evidence}/", MODERATORS),
    ("admin", "/admin/", STAFF),
    ("admin reports", "/admin/incidents/report/", STAFF),
]


@pytest.fixture
def world(db):
    """One of each thing a page or an action works on."""
    report = services.report_submit(
        title="A chatbot invented a refund policy",
        text="It promised a refund.",
        contact_email="sender@example.org",
        evidence_files=[SimpleUploadedFile("screenshot.png", png_bytes())],
    )
    draft = IncidentFactory.create(
        severity=term("oecd-severity", "incident"),
        tags=[("iasr-2025", "malfunction.bias"), ("oecd-harm-type", "human-rights")],
    )
    entity_link = services.incident_add_entity(
        incident=draft, actor=None, name="OpenAI", kind="organisation", role="developer"
    )
    published = published_incident()
    return {
        "report": report.pk,
        "token": report.status_token,
        "evidence": report.evidence.get().pk,
        "draft": draft.pk,
        "published": published.pk,
        "public_id": published.public_id,
        "entity_link": entity_link.pk,
    }


@pytest.fixture
def as_role(client, request):
    """A client signed in as ``role`` (or not signed in, for "anonymous")."""

    def sign_in(role):
        if role != "anonymous":
            client.force_login(request.getfixturevalue(role))
        return client

    return sign_in


def assert_answer(response, expected, url):
    if expected == "login":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    elif expected == "admin-login":
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=")
    else:
        assert response.status_code == expected, url


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("page", "url", "rule"), PAGES, ids=[page for page, _url, _rule in PAGES])
def test_who_may_see_each_page(as_role, world, role, page, url, rule):
    url = url.format(**world)

    response = as_role(role).get(url)

    assert_answer(response, rule[role], url)


# --- Moderation actions -------------------------------------------------------------

ACTIONS = [
    ("claim", "/moderation/reports/{report}/claim/", {}),
    ("release", "/moderation/reports/{report}/release/", {}),
    ("reject", "/moderation/reports/{report}/reject/", {"reason": "Not about AI."}),
    ("new incident", "/moderation/reports/{report}/new-incident/", {}),
    ("attach", "/moderation/reports/{report}/attach/", {"incident": "{draft}"}),
    ("edit", "/moderation/incidents/{draft}/save/", {"title": "Changed title", "description": "Changed."}),
    ("tag", "/moderation/incidents/{draft}/tags/", {"iasr-2025": "{bias}"}),
    ("add entity", "/moderation/incidents/{draft}/entities/", {"name": "Anthropic", "kind": "organisation",
                                                               "role": "developer"}),
    ("remove entity", "/moderation/incidents/{draft}/entities/{entity_link}/remove/", {}),
    ("publish", "/moderation/incidents/{draft}/publish/", {}),
    ("withdraw", "/moderation/incidents/{published}/withdraw/", {"reason": "A hoax."}),
    ("merge", "/moderation/incidents/{draft}/merge/", {"target": "{published}"}),
]  # fmt: skip


def moderation_state():
    """Everything a moderation action could change."""
    return {
        "reports": list(Report.objects.order_by("pk").values_list("status", "claimed_by", "public_reason")),
        "incidents": list(Incident.objects.order_by("pk").values_list("title", "status")),
        "links": ReportIncidentLink.objects.count(),
        "entities": IncidentEntity.objects.count(),
        "tags": Tagging.objects.count(),
        "revisions": Revision.objects.count(),
        "events": ReportEvent.objects.count(),
    }


@pytest.mark.parametrize("role", ["anonymous", "public_user", "auditor", "regulator", "staff"])
@pytest.mark.parametrize(("action", "url", "data"), ACTIONS, ids=[action for action, _url, _data in ACTIONS])
def test_only_moderators_may_act(as_role, world, role, action, url, data):
    ids = {**world, "bias": term("iasr-2025", "malfunction.bias").pk}
    before = moderation_state()

    response = as_role(role).post(url.format(**ids), {k: v.format(**ids) for k, v in data.items()})

    assert_answer(response, MODERATORS[role], url)
    assert moderation_state() == before


@pytest.mark.parametrize(("action", "url", "data"), ACTIONS, ids=[action for action, _url, _data in ACTIONS])
def test_a_moderator_may_act(as_role, world, action, url, data):
    ids = {**world, "bias": term("iasr-2025", "malfunction.bias").pk}
    before = moderation_state()

    response = as_role("moderator").post(url.format(**ids), {k: v.format(**ids) for k, v in data.items()})

    assert response.status_code == 302
    assert moderation_state() != before


@pytest.mark.parametrize("role", ROLES)
def test_the_moderation_link_is_shown_to_moderators_only(as_role, role):
    response = as_role(role).get("/")

    assert ('href="/moderation/"' in response.content.decode()) is (role == "moderator")


def test_the_sender_of_a_report_cannot_download_its_evidence(client, public_user):
    client.force_login(public_user)
    client.post(
        "/report/",
        {
            "title": "My screenshot",
            "text": "See the file.",
            "consent": "on",
            "evidence": SimpleUploadedFile("mine.png", png_bytes()),
        },
    )
    report = Report.objects.get(submitter=public_user)

    response = client.get(f"/moderation/evidence/{report.evidence.get().pk}/")

    assert response.status_code == 403
