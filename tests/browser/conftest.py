"""Playwright fixtures: the system Chromium against pytest-django's live server.

Playwright's sync API runs an event loop in the test thread, which makes Django
refuse database access from it ("SynchronousOnlyOperation") unless allowed.
"""

import os
from collections.abc import Iterator

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import chromium_path

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

PASSWORD = "a-long-test-password"  # what tests.factories.UserFactory sets
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}

expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:  # the root conftest skips (or fails) browser tests first
        pytest.skip("needs Chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=LAUNCH_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Browser, live_server) -> Iterator:
    """Open a page in a fresh context (own cookies): a different person each call."""
    contexts = []

    def open_page(**options: object) -> Page:
        context = browser.new_context(base_url=live_server.url, viewport=DESKTOP, **options)  # type: ignore[arg-type]
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page) -> Page:
    return new_page()


def verified(user: User) -> User:
    """allauth with mandatory verification only lets verified addresses sign in."""
    EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})
    return user


def sign_in(page: Page, user: User, password: str = PASSWORD) -> None:
    """Sign in through the allauth login page, by e-mail."""
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def mark_page(page: Page) -> None:
    """Set a marker on window: it survives htmx swaps, not a full page load."""
    page.evaluate("window.__noReload = true")


def htmx_settled(page: Page) -> None:
    """Wait until htmx has finished swapping and has wired up the new content.

    New content is in the page (and visible to assertions) a moment before htmx
    binds its triggers; acting on it in that moment would be missed by htmx.
    """
    page.wait_for_function(
        "window.htmx && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def assert_no_reload(page: Page) -> None:
    assert page.evaluate("window.__noReload === true"), "the page was reloaded; expected an htmx swap"
