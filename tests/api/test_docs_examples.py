"""The curl and Python examples of docs/api.md, run as written against a live server."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from api.models import ApiKey
from api.services import api_key_create
from incidents.models import Report

from ..factories import EntityFactory, ReportFactory, UserFactory, involve, link, published_incident

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BLOCKS = re.findall(r"```(sh|python)\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture
def server(live_server, settings):
    settings.ALLOWED_HOSTS = ["*"]
    user = UserFactory.create(username="regulator-docs", roles=["regulator"])
    _key, raw = api_key_create(user=user, name="docs", scope=ApiKey.Scope.SUBMIT)
    entity = EntityFactory.create(name="OpenAI", slug="openai")
    for i, (hazard, country) in enumerate(
        [("malfunction.bias", "US"), ("malicious-use.fake-content", "FR"), ("malfunction.reliability", "US")]
    ):
        incident = published_incident(
            title=f"Example incident {i}",
            countries=[country],
            tags=[("iasr-2025", hazard), ("oecd-harm-type", "human-rights")],
        )
        involve(incident, entity)
        link(ReportFactory.create(source_url=f"https://news.example.org/{i}"), incident)
    return {"BASE": live_server.url, "API_KEY": raw}


def _run(kind: str, code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    if kind == "sh":
        if shutil.which("curl") is None:
            pytest.skip("needs curl")
        command = ["bash", "-euo", "pipefail", "-c", code]
    else:
        command = [sys.executable, "-c", code]
    return subprocess.run(
        command, env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_page_has_examples_of_both_kinds():
    kinds = [kind for kind, _code in BLOCKS]
    assert kinds.count("sh") >= 5
    assert kinds.count("python") >= 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(("index", "kind"), [(i, kind) for i, (kind, _code) in enumerate(BLOCKS)])
def test_every_example_runs(server, tmp_path, index, kind):
    code = BLOCKS[index][1]

    result = _run(kind, code, server, tmp_path)

    assert result.returncode == 0, (
        f"example {index} failed:\n{code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    if "If-None-Match" in code:
        assert result.stdout.strip() == "304"
    if "stats/moderation" in code:
        assert "reports_awaiting_moderation" in json.loads(result.stdout)
    if "hazard_family" in code:
        groups = {g["key"]: g["count"] for g in json.loads(result.stdout)["groups"]}
        assert groups == {"malfunction": 2}
    if "POST" in code:
        assert Report.objects.filter(channel=Report.Channel.API).count() == 1
    if "incidents of malicious use" in code:
        assert result.stdout.startswith("1 incidents")
    if "wc -l" in code:
        assert result.stdout.split()[0] == "3"
