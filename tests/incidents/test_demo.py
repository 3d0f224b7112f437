"""The demo content: real AIID incidents, hand-curated tags, loaded idempotently."""

import json

import pytest
from django.core.management import call_command
from django.test import override_settings

from incidents.demo.loader import DEMO_DIR
from incidents.models import Incident, Report, Tagging
from taxonomy.models import Term


@pytest.fixture
def curated():
    return json.loads((DEMO_DIR / "curated_tags.json").read_text())["incidents"]


def test_curated_tags_use_only_known_codes(db, curated):
    known = set(Term.objects.values_list("vocabulary__code", "code"))
    fields = {
        "hazards": "iasr-2025",
        "harm_types": "oecd-harm-type",
        "failure_modes": "failure-mode",
        "stakeholders": "oecd-stakeholder",
        "flags": "system-flag",
    }
    assert len(curated) >= 60
    for key, tags in curated.items():
        assert ("oecd-severity", tags["severity"]) in known, key
        assert tags["hazards"], key
        for field, vocabulary in fields.items():
            for code in tags[field]:
                assert (vocabulary, code) in known, f"{key}: {field} {code}"


@pytest.mark.django_db
def test_seed_demo_loads_real_incidents_once(curated, capsys):
    call_command("seed_demo")
    incidents = Incident.objects.filter(source_name="aiid")
    published = incidents.filter(status=Incident.Status.PUBLISHED)
    assert incidents.count() >= 200
    assert published.count() == len(curated)
    # Published ones carry hand-curated tags; the others are untagged drafts.
    assert not Tagging.objects.filter(incident__status=Incident.Status.DRAFT, incident__source_name="aiid").exists()
    assert Tagging.objects.filter(incident__in=published, source=Tagging.Source.CURATED).count() > len(curated)
    uber = incidents.get(external_id="4")
    assert uber.severity is not None
    assert uber.severity.code == "serious-incident"
    assert uber.reports.count() >= 20
    assert uber.reports.filter(source_url__startswith="http").exists()
    counts = (incidents.count(), Report.objects.count(), Tagging.objects.count())
    call_command("seed_demo")
    assert (incidents.count(), Report.objects.count(), Tagging.objects.count()) == counts
    assert "nothing added" in capsys.readouterr().out


@pytest.mark.django_db
def test_demo_accounts_are_created_once_and_only_in_demo_mode(capsys):
    from django.core.management.base import CommandError

    with override_settings(DEMO_MODE=False), pytest.raises(CommandError):
        call_command("create_demo_accounts")
    with override_settings(DEMO_MODE=True):
        call_command("create_demo_accounts")
        first = capsys.readouterr().out
        call_command("create_demo_accounts")
        second = capsys.readouterr().out
    assert "moderator@demo.incidentcommons.local" in first
    assert "shown once" in first
    assert "passwords were printed when they were created" in second
    from django.contrib.auth.models import User

    moderator = User.objects.get(username="moderator@demo.incidentcommons.local")
    assert moderator.groups.filter(name="moderator").exists()
