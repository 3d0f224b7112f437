"""The browser pages where people make, see and revoke their API keys."""

import re

import pytest

from api.models import ApiKey, hash_key
from api.services import api_key_create

from ..factories import UserFactory
from .conftest import client_with

pytestmark = pytest.mark.django_db
URL = "/account/api-keys/"


def test_signing_in_is_needed(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_new_key_is_shown_once_and_works(client, public_user, catalogue):
    client.force_login(public_user)

    response = client.post(URL, {"name": "Monthly statistics", "scope": "read"})

    assert response.status_code == 200
    shown = re.search(r'value="(ick_[^"]+)"', response.content.decode())
    assert shown is not None
    raw = shown.group(1)
    key = ApiKey.objects.get(user=public_user)
    assert key.key_hash == hash_key(raw)
    assert key.name == "Monthly statistics"
    assert client_with(raw).get("/api/v1/incidents/").status_code == 200
    # The list shows only its first characters from now on.
    again = client.get(URL).content.decode()
    assert raw not in again
    assert f"{key.hint}…" in again
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]


def test_a_key_for_submitting(client, public_user):
    client.force_login(public_user)
    client.post(URL, {"name": "Reporting tool", "scope": "submit"})

    assert ApiKey.objects.get(user=public_user).can_submit


@pytest.mark.parametrize(
    ("data", "message"),
    [({"name": "", "scope": "read"}, "This field is required."), ({"name": "x", "scope": "admin"}, "Select a valid")],
)
def test_a_bad_form_says_why(client, public_user, data, message):
    client.force_login(public_user)

    response = client.post(URL, data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ApiKey.objects.exists()


def test_revoking_stops_the_key(client, public_user, catalogue):
    key, raw = api_key_create(user=public_user, name="old")
    client.force_login(public_user)

    response = client.post(f"{URL}{key.pk}/revoke/", follow=True)

    assert "was revoked" in response.content.decode()
    assert client_with(raw).get("/api/v1/incidents/").status_code == 401
    assert "Revoked" in client.get(URL).content.decode()


def test_nobody_sees_or_revokes_someone_elses_keys(client, public_user):
    key, _raw = api_key_create(user=public_user, name="mine, private name")
    client.force_login(UserFactory.create(username="other"))

    assert "mine, private name" not in client.get(URL).content.decode()
    assert client.post(f"{URL}{key.pk}/revoke/").status_code == 404
    key.refresh_from_db()
    assert key.is_active


def test_revoking_needs_a_post(client, public_user):
    key, _raw = api_key_create(user=public_user, name="old")
    client.force_login(public_user)

    assert client.get(f"{URL}{key.pk}/revoke/").status_code == 405


def test_the_number_of_active_keys_is_limited(client, public_user):
    for i in range(20):
        api_key_create(user=public_user, name=f"key {i}")
    client.force_login(public_user)

    response = client.post(URL, {"name": "one more", "scope": "read"})

    assert response.status_code == 400
    assert "revoke one" in response.content.decode()
    assert ApiKey.objects.count() == 20


def test_names_are_escaped(client, public_user):
    api_key_create(user=public_user, name="<script>alert(1)</script>")
    client.force_login(public_user)

    page = client.get(URL).content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
