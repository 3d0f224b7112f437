"""The OpenAPI schema validates, and a property-based run of it (schemathesis)
finds no server error and no response that breaks the schema."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.models import ApiKey
from api.services import api_key_create

from ..factories import UserFactory

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, status_code_conformance]
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


def test_the_schema_is_valid_openapi_3():
    generated = SchemaGenerator().get_schema(request=None, public=True)

    validate_schema(generated)  # raises on an invalid schema
    assert generated["openapi"].startswith("3.")
    assert {"/api/v1/incidents/", "/api/v1/stats/", "/api/v1/reports/"} <= set(generated["paths"])


def test_every_filter_and_field_is_described():
    generated = SchemaGenerator().get_schema(request=None, public=True)

    undocumented = [
        (path, p["name"])
        for path, operations in generated["paths"].items()
        for p in operations.get("get", {}).get("parameters", [])
        if not p.get("description") and p["in"] == "query"
    ]
    assert undocumented == []
    incident = generated["components"]["schemas"]["Incident"]["properties"]
    assert {"hazards", "verification", "modified", "status"} <= set(incident)


def test_every_answer_of_a_submission_is_documented():
    """Found by the property-based run below: a reused Idempotency-Key's 422 was not in the schema."""
    generated = SchemaGenerator().get_schema(request=None, public=True)

    responses = generated["paths"]["/api/v1/reports/"]["post"]["responses"]
    assert {"200", "201", "400", "401", "403", "422", "429"} <= set(responses)
    reused = responses["422"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(generated["components"]["schemas"][reused]["properties"]) == {"type", "errors"}


@pytest.fixture
def fuzzing(settings, catalogue):
    """High rates, a key that may submit, and the database connection kept open between
    requests (the WSGI app would close it after each, as in production; Django's own
    test client prevents that the same way)."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "key": "100000/min", "submit": "100000/min"},
    }
    user = UserFactory.create(username="fuzzer")
    _key, raw = api_key_create(user=user, name="fuzz", scope=ApiKey.Scope.SUBMIT)
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield raw
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_5xx_and_every_response_fits_the_schema(case, fuzzing):
    case.call_and_validate(checks=CHECKS)


@pytest.mark.django_db
@schema.include(method="POST").parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_submitting_with_a_key_never_fails_on_the_server(case, fuzzing):
    case.headers = {**(case.headers or {}), "Authorization": f"Api-Key {fuzzing}"}
    case.call_and_validate(checks=CHECKS)
