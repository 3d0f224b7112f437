"""Public answers come from the cache until the catalogue changes, and only then."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.services import api_key_create
from incidents import services

from ..factories import EntityFactory, published_incident
from .conftest import client_with

pytestmark = pytest.mark.django_db


def queries(api, url: str, **headers) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url, **headers)
    return len(captured), response


@pytest.fixture
def cached(settings):
    settings.API_CACHE_SECONDS = 300


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/incidents/?hazard=malfunction",
        "/api/v1/stats/?dimension=hazard&interval=year",
        "/api/v1/entities/",
        "/api/v1/taxonomy/",
    ],
)
def test_a_repeated_question_is_answered_from_the_cache(api, catalogue, cached, url):
    first_queries, first = queries(api, url)
    again_queries, again = queries(api, url)

    assert again.status_code == 200
    assert again.content == first.content
    assert again_queries < first_queries
    assert again_queries <= 3  # the catalogue's stamp (and the throttle's clock, in the cache)
    assert again["Taxonomy-Version"] == first["Taxonomy-Version"]
    assert again["ETag"] == first["ETag"]


def test_a_change_shows_at_once(api, catalogue, cached, moderator):
    url = "/api/v1/incidents/?hazard=malfunction"
    api.get(url)

    services.incident_update(incident=catalogue["faces"], actor=moderator, title="Renamed at once")

    assert "Renamed at once" in api.get(url).content.decode()


def test_new_published_incidents_and_aliases_show_at_once(api, catalogue, cached, moderator):
    api.get("/api/v1/incidents/")
    api.get("/api/v1/entities/openai/")

    fresh = published_incident(title="Published a second ago")
    services.entity_add_alias(entity=catalogue["openai"], alias="OpenAI LP")

    assert fresh.public_id in api.get("/api/v1/incidents/").content.decode()
    assert "OpenAI LP" in api.get("/api/v1/entities/openai/").json()["aliases"]


def test_errors_are_not_cached_and_throttles_still_count(api, catalogue, cached, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "3/min", "key": "100/min", "submit": "1/min"},
    }
    assert api.get("/api/v1/incidents/?country=XX").status_code == 400
    statuses = [api.get("/api/v1/incidents/").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_moderation_statistics_are_never_cached(catalogue, cached, regulator):
    _key, raw = api_key_create(user=regulator, name="stats")
    client = client_with(raw)
    before = client.get("/api/v1/stats/moderation/").json()["reports_awaiting_moderation"]

    from ..factories import ReportFactory

    ReportFactory.create()

    assert client.get("/api/v1/stats/moderation/").json()["reports_awaiting_moderation"] == before + 1


def test_the_cache_can_be_turned_off(api, catalogue, settings):
    settings.API_CACHE_SECONDS = 0
    api.get("/api/v1/entities/")  # the taxonomy's version is cached (a minute) either way
    first, _ = queries(api, "/api/v1/entities/")
    again, _ = queries(api, "/api/v1/entities/")

    assert again == first
    assert first >= 2  # the entities were read both times


def test_an_entity_renamed_in_the_admin_shows_at_once(api, db, cached):
    entity = EntityFactory.create(name="Old name", slug="old")
    incident = published_incident()
    from ..factories import involve

    involve(incident, entity)
    api.get("/api/v1/entities/")
    entity.name = "New name"
    entity.save()

    assert "New name" in api.get("/api/v1/entities/").content.decode()
