"""A researcher makes an API key in the browser, uses it, and revokes it; by keyboard."""

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from api.models import ApiKey
from tests.factories import UserFactory, published_incident

from .conftest import sign_in, verified

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def call(url: str, key: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Api-Key {key}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310 (the live server)
            json.load(response)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_make_use_and_revoke_a_key(page: Page, live_server):
    published_incident(title="Chatbot invents a refund policy")
    user = verified(UserFactory.create(username="researcher", email="researcher@example.org"))
    sign_in(page, user)

    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API keys")
    expect(page.get_by_text("You have no API key yet.")).to_be_visible()

    # By keyboard only: the name, the scope, the button.
    page.get_by_label("Name").focus()
    page.keyboard.type("Monthly statistics")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # the first scope, "Read"
    page.get_by_role("button", name="Make the key").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Your new key “Monthly statistics”")).to_be_visible()
    raw = page.get_by_role("textbox", name="The new key").input_value()
    assert re.fullmatch(r"ick_[\w-]{40,}", raw)
    assert call(f"{live_server.url}/api/v1/incidents/", raw) == 200
    assert ApiKey.objects.get(user=user).last_used_at is not None

    # Reloading does not show it again.
    page.goto("/account/api-keys/")
    expect(page.get_by_role("textbox", name="The new key")).to_have_count(0)
    expect(page.get_by_role("cell", name="Monthly statistics", exact=True)).to_be_visible()

    page.get_by_role("button", name="Revoke the key Monthly statistics").click()
    expect(page.get_by_text("The key “Monthly statistics” was revoked: it no longer works.")).to_be_visible()
    assert call(f"{live_server.url}/api/v1/incidents/", raw) == 401


def test_the_api_docs_load_from_our_own_static_files(page: Page, live_server):
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)

    page.goto("/api/v1/docs/")

    expect(page.get_by_text("Incident Commons API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/incidents/", exact=True).first).to_be_visible()
    assert outside == []
