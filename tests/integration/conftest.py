import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    """The URL of the database the tests use (pytest-django's test_* copy)."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def start_worker(tmp_path: Path, name: str, *, app: str = "config", extra_env: dict[str, str] | None = None):
    """Start a real Celery worker process on the test database and wait until it is ready."""
    log = tmp_path / f"{name}.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    handle = log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", app, "worker", "--pool", "solo", "-l", "info", "-n", f"{name}@%h"],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.log_path = log  # type: ignore[attr-defined]
    process.log_handle = handle  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "ready." in log.read_text():
            return process
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited:\n{log.read_text()}")
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the worker did not start in 60 s:\n{log.read_text()}")


def stop_worker(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    process.log_handle.close()  # type: ignore[attr-defined]


@pytest.fixture
def celery_worker_process(tmp_path) -> Iterator[subprocess.Popen[str]]:
    """A real Celery worker in its own process, on the test database and the real broker."""
    process = start_worker(tmp_path, "ci")
    yield process
    stop_worker(process)
