"""Who may call what: anonymous, a public key, a regulator's key, a revoked key,
for every endpoint; throttling; and the private fields that never leave."""

import json

import pytest
from django.utils import timezone

from api.models import ApiKey
from api.services import api_key_create

from .conftest import client_with

pytestmark = pytest.mark.django_db

READ_ENDPOINTS = [
    "/api/v1/",
    "/api/v1/incidents/",
    "/api/v1/incidents/?format=csv",
    "/api/v1/incidents/{incident}/",
    "/api/v1/reports/",
    "/api/v1/reports/?format=csv",
    "/api/v1/reports/{report}/",
    "/api/v1/entities/",
    "/api/v1/entities/openai/",
    "/api/v1/taxonomy/",
    "/api/v1/taxonomy/iasr-2025/",
    "/api/v1/crosswalk/",
    "/api/v1/stats/?dimension=hazard",
    "/api/v1/export/incidents.jsonl",
    "/api/v1/schema/",
    "/api/v1/docs/",
]
MODERATION_STATS = "/api/v1/stats/moderation/"


def _url(template: str, catalogue) -> str:
    return template.format(incident=catalogue["chatbot"].public_id, report=catalogue["reports"][0].pk)


def _body(response) -> str:
    return (b"".join(response.streaming_content) if response.streaming else response.content).decode()


@pytest.fixture
def callers(api, read_key, regulator_key, revoked_key):
    return {
        "anonymous": api,
        "public key": client_with(read_key[1]),
        "regulator key": client_with(regulator_key[1]),
        "revoked key": client_with(revoked_key[1]),
    }


# caller → (status for public reads, status for the moderation statistics)
MATRIX = {
    "anonymous": (200, 401),
    "public key": (200, 403),
    "regulator key": (200, 200),
    "revoked key": (401, 401),
}


@pytest.mark.parametrize("caller", list(MATRIX))
@pytest.mark.parametrize("endpoint", READ_ENDPOINTS)
def test_public_reads(callers, catalogue, caller, endpoint):
    response = callers[caller].get(_url(endpoint, catalogue))

    assert response.status_code == MATRIX[caller][0], _body(response)


@pytest.mark.parametrize("caller", list(MATRIX))
def test_moderation_statistics_are_for_regulators_keys_only(callers, catalogue, caller):
    response = callers[caller].get(MODERATION_STATS)

    assert response.status_code == MATRIX[caller][1]
    if response.status_code == 200:
        data = response.json()
        assert data["reports_awaiting_moderation"] == 6  # every report of the fixture is still "received"
        assert data["incidents_by_status"]["draft"] == 1


def test_a_regulator_signed_in_in_the_browser_is_not_a_key(client, regulator, catalogue):
    """Session cookies do not authenticate the API: a key is what grants more."""
    client.force_login(regulator)
    assert client.get(MODERATION_STATS).status_code == 401


@pytest.mark.parametrize("caller", list(MATRIX))
def test_submitting_needs_a_key_with_the_submit_scope(callers, catalogue, caller):
    response = callers[caller].post("/api/v1/reports/", {"title": "x"}, format="json")

    assert response.status_code == {"anonymous": 401, "revoked key": 401}.get(caller, 403)


def test_a_wrong_key_is_refused_not_treated_as_anonymous(api, catalogue):
    response = client_with("ick_not-a-real-key").get("/api/v1/incidents/")

    assert response.status_code == 401
    assert response.json()["errors"][0]["detail"] == "This API key is not valid."
    assert response["WWW-Authenticate"] == "Api-Key"


def test_the_key_also_works_in_x_api_key(api, regulator_key, catalogue):
    assert api.get(MODERATION_STATS, HTTP_X_API_KEY=regulator_key[1]).status_code == 200


def test_last_use_is_recorded(read_key, catalogue):
    key, raw = read_key
    assert key.last_used_at is None

    client_with(raw).get("/api/v1/incidents/")

    key.refresh_from_db()
    assert key.last_used_at is not None
    assert (timezone.now() - key.last_used_at).total_seconds() < 60


def test_keys_are_stored_hashed(read_key):
    key, raw = read_key

    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert raw not in json.dumps(stored, default=str)
    assert raw.startswith(key.hint)


# --- throttling ---------------------------------------------------------------------


def test_anonymous_reads_are_throttled_and_a_key_gets_more(api, settings, public_user, catalogue):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "3/min", "key": "6/min", "submit": "1/min"},
    }
    statuses = [api.get("/api/v1/taxonomy/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api.get("/api/v1/taxonomy/")
    assert limited.json()["errors"][0]["code"] == "throttled"
    assert int(limited["Retry-After"]) > 0

    _key, raw = api_key_create(user=public_user, name="more")
    keyed = client_with(raw)
    assert [keyed.get("/api/v1/taxonomy/").status_code for _ in range(7)] == [200] * 6 + [429]


# --- private data never leaves -------------------------------------------------------

PRIVATE = [
    "PRIVATE-TEXT",
    "PRIVATE-HARM",
    "private-sender@example.org",
    "hidden@example.org",
    "pending@example.org",
    "SECRET",
    "secret draft incident",
    "status_token",
    "contact_email",
]


def test_no_private_field_in_any_response_or_export(callers, catalogue):
    tokens = [r.status_token for r in catalogue["reports"]]
    for caller in ("anonymous", "public key", "regulator key"):
        for endpoint in [*READ_ENDPOINTS, MODERATION_STATS, "/api/v1/reports/?format=csv"]:
            if endpoint in ("/api/v1/schema/", "/api/v1/docs/"):
                continue
            text = _body(callers[caller].get(_url(endpoint, catalogue)))
            for needle in [*PRIVATE, *tokens]:
                assert needle not in text, (caller, endpoint, needle)
