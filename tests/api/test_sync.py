"""Incremental sync: a client that follows ``next`` with ``ordering=modified``, then
asks again with ``updated_since`` = the largest ``modified`` it saw, ends with the
catalogue as it is, even when records change while it pulls."""

import datetime

import pytest
from django.utils import timezone

from incidents import services
from incidents.models import Incident

from ..factories import published_incident

pytestmark = pytest.mark.django_db


def pull(api, since: str | None, mirror: dict[str, dict], *, during=None) -> str | None:
    """One sync run into ``mirror``; ``during(page_number)`` changes records between pages."""
    url = "/api/v1/incidents/?ordering=modified&page_size=3"
    if since:
        url += f"&updated_since={since}"
    newest = since
    page = 0
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        for item in response.json()["results"]:
            if item["status"] == "published":
                mirror[item["id"]] = item
            else:
                mirror.pop(item["id"], None)
            newest = max(newest or "", item["modified"])
        url = response.json()["next"]
        page += 1
        if during is not None:
            during(page)
    return newest


def truth(api) -> dict[str, str]:
    found = {}
    url = "/api/v1/incidents/?page_size=500"
    while url:
        response = api.get(url)
        found.update({i["id"]: i["title"] for i in response.json()["results"]})
        url = response.json()["next"]
    return found


def test_changes_during_the_pull_are_not_missed(api, moderator):
    start = timezone.now() - datetime.timedelta(days=1)
    made = []
    for i in range(10):
        incident = published_incident(title=f"Incident {i}")
        Incident.objects.filter(pk=incident.pk).update(modified=start + datetime.timedelta(minutes=i))
        made.append(Incident.objects.get(pk=incident.pk))

    def change(page: int) -> None:
        if page == 1:
            # One already pulled, one not yet reached, a new one, one withdrawn, one merged away.
            services.incident_update(incident=made[0], actor=moderator, title="Incident 0, corrected")
            services.incident_update(incident=made[8], actor=moderator, title="Incident 8, corrected")
            published_incident(title="Incident 10, new")
            services.incident_withdraw(incident=made[1], actor=moderator, reason="A hoax")
            services.incident_merge(source=made[9], target=made[7], actor=moderator)

    mirror: dict[str, dict] = {}
    newest = pull(api, None, mirror, during=change)
    pull(api, newest, mirror)

    assert {k: v["title"] for k, v in mirror.items()} == truth(api)
    assert mirror[made[0].public_id]["title"] == "Incident 0, corrected"
    assert made[1].public_id not in mirror
    assert made[9].public_id not in mirror
    assert any(v["title"] == "Incident 10, new" for v in mirror.values())


def test_tombstones_say_what_left_and_nothing_else(api, moderator):
    kept = published_incident(title="Kept")
    gone = published_incident(title="Gone, with a name in it")
    merged = published_incident(title="Merged one")
    since = (timezone.now() - datetime.timedelta(minutes=1)).isoformat()
    services.incident_withdraw(incident=gone, actor=moderator, reason="Privacy")
    services.incident_merge(source=merged, target=kept, actor=moderator)

    items = {i["id"]: i for i in api.get(f"/api/v1/incidents/?updated_since={since}").json()["results"]}

    assert items[gone.public_id]["status"] == "withdrawn"
    assert items[gone.public_id]["withdrawn"] is not None
    assert items[gone.public_id]["title"] == ""
    assert items[gone.public_id]["hazards"] == []
    assert items[merged.public_id]["duplicate_of"] == kept.public_id
    assert items[kept.public_id]["status"] == "published"
    # Without updated_since the list is the public set only.
    assert {i["id"] for i in api.get("/api/v1/incidents/").json()["results"]} == {kept.public_id}


def test_confirming_a_report_counts_as_a_change(api, moderator):
    from incidents.models import ReportIncidentLink

    from ..factories import ReportFactory

    incident = published_incident()
    link = ReportIncidentLink.objects.create(
        report=ReportFactory.create(), incident=incident, method=ReportIncidentLink.Method.DEDUP, confirmed=False
    )
    Incident.objects.filter(pk=incident.pk).update(modified=timezone.now() - datetime.timedelta(days=1))
    since = (timezone.now() - datetime.timedelta(minutes=1)).isoformat()
    assert api.get(f"/api/v1/incidents/?updated_since={since}").json()["results"] == []

    services.link_confirm(link=link, actor=moderator)

    results = api.get(f"/api/v1/incidents/?updated_since={since}").json()["results"]
    assert [r["verification"]["reports"] for r in results] == [1]


@pytest.mark.parametrize(
    "value", ["2026-01-31T12:00:00Z", "2026-01-31T12:00:00+01:00", "2026-01-31", "2026-01-31T12:00"]
)
def test_updated_since_accepts_iso_8601(api, db, value):
    assert api.get("/api/v1/incidents/", {"updated_since": value}).status_code == 200


@pytest.mark.parametrize(
    ("value", "status"),
    [("6013-02-13T16:03:49+17:51", 200), ("9999-12-31T23:00:00-05:00", 400), ("2026-02-30T00:00:00Z", 400)],
)
def test_updated_since_out_of_the_databases_range_is_not_a_500(api, db, value, status):
    """Found by schemathesis on PostgreSQL, which refuses offsets beyond ±15:59."""
    assert api.get("/api/v1/incidents/", {"updated_since": value}).status_code == status
