"""Shared fixtures: role users, and the rules for tests that need services.

Tests marked ``services`` need PostgreSQL (``DATABASE_URL``) and Redis with a
Celery worker (``CELERY_BROKER_URL``); tests marked ``browser`` need Chromium.
On a laptop without them they are skipped; ``REQUIRE_SERVICES=1`` and
``REQUIRE_BROWSER=1`` (set by ``.ci/run``) make them fail instead, and make any
skip at all fail the run.
"""

import os
import shutil
from collections.abc import Iterator

import pytest
from django.core.cache import cache

from accounts.roles import AUDITOR, MODERATOR, REGULATOR

from .factories import UserFactory

STRICT = os.environ.get("REQUIRE_SERVICES") == "1" or os.environ.get("REQUIRE_BROWSER") == "1"


def chromium_path() -> str | None:
    for name in (os.environ.get("CHROMIUM_PATH", ""), "chromium", "chromium-browser", "google-chrome"):
        if name and (found := shutil.which(name) or (name if os.path.exists(name) else None)):
            return found
    return None


def _missing(item: pytest.Item) -> tuple[str, str] | None:
    """(variable that requires it, what is missing) for a test that cannot run here."""
    services_ready = os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("CELERY_BROKER_URL")
    if "services" in item.keywords and not services_ready:
        return "REQUIRE_SERVICES", "DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis)"
    if "browser" in item.keywords and chromium_path() is None:
        return "REQUIRE_BROWSER", "Chromium (apt-get install chromium)"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A transactional test empties the database when it ends; without serialized_rollback
    # the migrated taxonomy and role groups would be gone for every test after it.
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            raise pytest.UsageError(f"{item.nodeid}: use django_db(transaction=True, serialized_rollback=True)")


@pytest.fixture(autouse=True)
def _migrated_data(request: pytest.FixtureRequest) -> None:
    """Transactional tests flush the database between them. serialized_rollback is
    meant to put the data of the migrations back, but was seen to miss it after the
    live-server tests; reload it explicitly (idempotent, so a no-op when present)."""
    marker = request.node.get_closest_marker("django_db")
    if not (marker and marker.kwargs.get("transaction")):
        return
    request.getfixturevalue("_django_db_helper")
    from taxonomy.models import Term

    if Term.objects.exists():
        return
    from django.contrib.auth.models import Group
    from django.contrib.sites.models import Site

    from taxonomy.loader import load_taxonomy_file

    load_taxonomy_file()
    for name in (AUDITOR, MODERATOR, REGULATOR):
        Group.objects.get_or_create(name=name)
    Site.objects.get_or_create(pk=1, defaults={"domain": "127.0.0.1:8000", "name": "Incident Commons"})


@pytest.fixture(scope="session", autouse=True)
def _celery_eager_default() -> bool:
    """Celery reads its configuration lazily, once: load it now, from the untouched
    settings, so that no test overriding CELERY_TASK_ALWAYS_EAGER can freeze it."""
    from config.celery import app

    return bool(app.conf.task_always_eager)


@pytest.fixture(autouse=True)
def _celery_eager_restored(_celery_eager_default: bool) -> Iterator[None]:
    from config.celery import app

    yield
    app.conf.task_always_eager = _celery_eager_default


@pytest.fixture
def ratelimit_clock(monkeypatch) -> None:
    """Stop django-ratelimit's clock: its windows are fixed, so a test whose requests
    straddled the end of one would see its count start again."""
    import types

    import django_ratelimit.core

    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: 1_790_000_000.0))


@pytest.fixture
def eager_tasks(settings, _celery_eager_default: bool) -> Iterator[None]:
    """Run Celery tasks in the test process even where a broker is configured (CI)."""
    from config.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    yield  # _celery_eager_restored puts Celery's value back


def pytest_runtest_setup(item: pytest.Item) -> None:
    missing = _missing(item)
    if missing is None:
        return
    variable, what = missing
    if os.environ.get(variable) == "1":
        pytest.fail(f"{variable}=1 but this test cannot run: it needs {what}")
    pytest.skip(f"needs {what}")


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped or hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if STRICT and _skipped:
        print(f"\nREQUIRE_SERVICES/REQUIRE_BROWSER: {len(_skipped)} test(s) skipped or not run; that is a failure:")
        for nodeid in sorted(set(_skipped)):
            print(f"  {nodeid}")
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # Rate-limit counters live in the cache; every test starts from zero.
    cache.clear()
    # Each process keeps copies of the dedup index's vectors and features: a rolled-back test's rows
    # must not be found by the next one (SQLite reuses their ids).
    from incidents.dedup import candidates, vectors

    vectors.clear()
    candidates.clear()


@pytest.fixture
def public_user(db):
    return UserFactory(username="public")


@pytest.fixture
def moderator(db):
    return UserFactory(username="moderator", roles=[MODERATOR])


@pytest.fixture
def auditor(db):
    return UserFactory(username="auditor", roles=[AUDITOR])


@pytest.fixture
def regulator(db):
    return UserFactory(username="regulator", roles=[REGULATOR])


@pytest.fixture
def staff(db):
    return UserFactory(username="staff", is_staff=True, is_superuser=True)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    # A fast hasher: creating role users must not cost a quarter-second each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
