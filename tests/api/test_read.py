"""Reading the catalogue through /api/v1/: endpoints, every filter, ordering and
cursors, CSV and JSON Lines, conditional requests, the taxonomy version, and
clear 400s for bad input."""

import csv
import io
import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from incidents.models import Incident
from taxonomy.models import Vocabulary

from ..factories import EntityFactory, ReportFactory, involve, link, published_incident

pytestmark = pytest.mark.django_db


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


# --- incidents ---------------------------------------------------------------------


def test_the_list_shows_published_incidents_only_newest_first(api, catalogue):
    found = ids(api.get("/api/v1/incidents/"))

    assert found == [catalogue[n].public_id for n in ("deepfake", "faces", "chatbot")]
    assert catalogue["draft"].public_id not in found


def test_an_incident_in_the_aim_style_shape(api, catalogue):
    item = api.get(f"/api/v1/incidents/{catalogue['chatbot'].public_id}/").json()

    assert item["id"] == catalogue["chatbot"].public_id
    assert item["url"].endswith(f"/incidents/{catalogue['chatbot'].public_id}/")
    assert item["event_type"] == "incident"
    assert item["severity"] == "incident"
    assert item["countries"] == ["CA"]
    assert [h["code"] for h in item["hazards"]] == ["malfunction.reliability"]
    assert [f["code"] for f in item["failure_modes"]] == ["confabulation"]
    assert [h["code"] for h in item["harm_types"]] == ["economic-property"]
    assert [s["code"] for s in item["stakeholders"]] == ["consumers"]
    assert [s["code"] for s in item["industries"]] == ["isic:H"]
    assert "7.3" in item["mit_domains"]
    assert item["entities"] == [{"slug": "openai", "name": "OpenAI", "kind": "organisation", "role": "developer"}]
    assert item["verification"] == {"status": "corroborated", "reports": 2, "reproductions": 0}
    assert [r["url"] for r in item["reports"]] == [r.source_url for r in catalogue["reports"][:2]]


def test_a_draft_or_unknown_incident_is_not_found(api, catalogue):
    assert api.get(f"/api/v1/incidents/{catalogue['draft'].public_id}/").status_code == 404
    response = api.get("/api/v1/incidents/INC-2099-000001/")
    assert response.status_code == 404
    assert response.json()["type"] == "client_error"


def test_a_merged_incident_redirects_to_the_one_it_became_part_of(api, catalogue, moderator):
    services.incident_merge(source=catalogue["faces"], target=catalogue["chatbot"], actor=moderator)

    response = api.get(f"/api/v1/incidents/{catalogue['faces'].public_id}/")

    assert response.status_code == 301
    assert response["Location"].endswith(f"/api/v1/incidents/{catalogue['chatbot'].public_id}/")


# --- filters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("hazard=malfunction", ["faces", "chatbot"]),  # a family includes its categories
        ("hazard=malfunction.bias", ["faces"]),
        ("hazard=malfunction.bias,malicious-use.fake-content", ["deepfake", "faces"]),
        ("hazard=mit:7.3", ["chatbot"]),  # MIT codes through the crosswalk
        ("hazard=7", ["chatbot"]),  # an MIT domain includes its subdomains
        ("failure_mode=confabulation", ["chatbot"]),
        ("severity=incident", ["deepfake", "faces", "chatbot"]),
        ("severity=hazard", []),
        ("harm_type=human-rights", ["faces"]),
        ("stakeholder=consumers", ["chatbot"]),
        ("industry=isic:H", ["chatbot"]),
        ("country=US", ["deepfake", "faces"]),
        ("country=GB", ["faces"]),
        ("entity=openai", ["chatbot"]),
        ("entity=ChatGPT maker", ["chatbot"]),  # by an alias
        ("entity=openai&role=deployer", []),  # only the draft has OpenAI as deployer
        ("role=developer", ["faces", "chatbot"]),
        ("date_occurred_after=2024-01-01", ["deepfake", "chatbot"]),
        ("date_occurred_before=2023-12-31", ["faces"]),
        ("verification=corroborated", ["chatbot"]),
        ("verification=unverified", ["deepfake", "faces"]),
        ("verification=confirmed", []),
        ("q=chatbot", ["chatbot"]),
        ("q=facial recognition", ["faces"]),
    ],
)
def test_every_filter(api, catalogue, query, expected):
    assert ids(api.get(f"/api/v1/incidents/?{query}")) == [catalogue[name].public_id for name in expected]


def test_published_date_filters(api, catalogue):
    today = catalogue["now"].date().isoformat()
    assert len(ids(api.get(f"/api/v1/incidents/?date_published_after={today}"))) == 3
    assert ids(api.get("/api/v1/incidents/?date_published_before=2000-01-01")) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("hazard=no-such-code", "hazard"),
        ("failure_mode=malfunction", "failure_mode"),
        ("country=XX", "country"),
        ("role=owner", "role"),
        ("date_occurred_after=yesterday", "date_occurred_after"),
        ("updated_since=soon", "updated_since"),
        ("verification=maybe", "verification"),
        ("ordering=random", "ordering"),
        ("page_size=0", "page_size"),
        ("page_size=100000", "page_size"),
        ("cursor=not-a-cursor", None),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(api, catalogue, query, field):
    response = api.get(f"/api/v1/incidents/?{query}")

    assert response.status_code in (400, 404), response.content
    error = response.json()["errors"][0]
    assert error["detail"]
    if field is not None:
        assert response.status_code == 400
        assert error["attr"] == field


# --- ordering and cursors ----------------------------------------------------------


def test_cursor_pages_cover_everything_once_in_a_stable_order(api, db):
    made = [published_incident(title=f"Incident {i}") for i in range(7)]

    seen: list[str] = []
    url = "/api/v1/incidents/?page_size=3&ordering=id"
    while url:
        response = api.get(url)
        seen += ids(response)
        url = response.json()["next"]

    assert seen == sorted(i.public_id for i in made)


@pytest.mark.parametrize("ordering", ["-date_published", "date_published", "-modified", "modified", "id", "-id"])
def test_every_ordering_is_accepted(api, catalogue, ordering):
    assert len(ids(api.get(f"/api/v1/incidents/?ordering={ordering}"))) == 3


# --- CSV and JSON Lines ------------------------------------------------------------


def test_csv_has_the_same_filters_and_streams(api, catalogue):
    response = api.get("/api/v1/incidents/?format=csv&country=US")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body(response).decode())))
    assert [r["id"] for r in rows] == [catalogue["deepfake"].public_id, catalogue["faces"].public_id]
    assert rows[1]["countries"] == "GB;US"
    assert rows[1]["hazards"] == "malfunction.bias"


def test_csv_errors_come_as_json(api, catalogue):
    response = api.get("/api/v1/incidents/?format=csv&country=XX")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["errors"][0]["attr"] == "country"


def test_csv_cells_cannot_run_as_spreadsheet_formulas(api, db):
    published_incident(title='=HYPERLINK("http://evil.example")')

    rows = list(csv.DictReader(io.StringIO(body(api.get("/api/v1/incidents/?format=csv")).decode())))

    assert rows[0]["title"].startswith("'=")


def test_reports_as_csv(api, catalogue):
    rows = list(csv.DictReader(io.StringIO(body(api.get("/api/v1/reports/?format=csv")).decode())))

    assert len(rows) == 4
    assert {r["incidents"] for r in rows} == {
        i.public_id for i in (catalogue["chatbot"], catalogue["faces"], catalogue["deepfake"])
    }


def test_jsonl_export_has_every_published_incident_with_its_reports(api, catalogue):
    response = api.get("/api/v1/export/incidents.jsonl")

    assert response.streaming
    records = [json.loads(line) for line in body(response).decode().splitlines()]
    assert sorted(r["id"] for r in records) == sorted(catalogue[n].public_id for n in ("chatbot", "faces", "deepfake"))
    assert all("reports" in r for r in records)


# --- reports, entities, taxonomy, stats --------------------------------------------


def test_reports_list_only_confirmed_links_to_published_incidents(api, catalogue):
    response = api.get("/api/v1/reports/")
    titles = [r["title"] for r in response.json()["results"]]

    assert len(titles) == 4
    assert catalogue["hidden"].title not in titles
    assert catalogue["pending"].title not in titles
    assert api.get(f"/api/v1/reports/{catalogue['hidden'].pk}/").status_code == 404


def test_reports_of_one_incident(api, catalogue):
    response = api.get(f"/api/v1/reports/?incident={catalogue['chatbot'].public_id}")

    assert [r["incidents"] for r in response.json()["results"]] == [[catalogue["chatbot"].public_id]] * 2


def test_entities_with_their_published_incidents(api, catalogue):
    listed = api.get("/api/v1/entities/").json()["results"]
    detail = api.get("/api/v1/entities/openai/").json()

    assert {e["slug"]: e["incident_count"] for e in listed} == {"openai": 1, "clearview-ai": 1}
    assert [i["id"] for i in detail["incidents"]] == [catalogue["chatbot"].public_id]  # not the draft
    assert detail["aliases"] == ["ChatGPT maker"]
    assert api.get("/api/v1/entities/?q=chatgpt maker").json()["results"][0]["slug"] == "openai"


def test_taxonomy_and_crosswalk(api, db):
    vocabularies = api.get("/api/v1/taxonomy/").json()
    hazard = api.get("/api/v1/taxonomy/iasr-2025/").json()
    crosswalk = api.get("/api/v1/crosswalk/").json()

    assert {v["code"] for v in vocabularies} == set(Vocabulary.objects.values_list("code", flat=True))
    assert {"code": "malfunction.bias"}.items() <= next(
        t for t in hazard["terms"] if t["code"] == "malfunction.bias"
    ).items()
    assert any(m["source"] == "malfunction.reliability" and m["target"] == "7.3" for m in crosswalk)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "dimension=hazard",
            {
                ("malfunction.reliability", None): 1,
                ("malfunction.bias", None): 1,
                ("malicious-use.fake-content", None): 1,
            },
        ),
        ("dimension=hazard_family", {("malfunction", None): 2, ("malicious-use", None): 1}),
        (
            "dimension=hazard&interval=year",
            {
                ("malfunction.reliability", "2024"): 1,
                ("malfunction.bias", "2023"): 1,
                ("malicious-use.fake-content", "2025"): 1,
            },
        ),
        ("dimension=country", {("US", None): 2, ("GB", None): 1, ("CA", None): 1}),
        ("dimension=country&hazard=malfunction", {("US", None): 1, ("GB", None): 1, ("CA", None): 1}),
        ("dimension=severity", {("incident", None): 3}),
        ("dimension=entity", {("openai", None): 1, ("clearview-ai", None): 1}),
        ("dimension=verification", {("corroborated", None): 1, ("unverified", None): 2}),
        (
            "dimension=harm_type&interval=month",
            {("economic-property", "2024-02"): 1, ("human-rights", "2023-06"): 1, ("public-interest", "2025-01"): 1},
        ),
    ],
)
def test_stats_group_by_one_dimension_with_the_filters(api, catalogue, query, expected):
    response = api.get(f"/api/v1/stats/?{query}")

    assert response.status_code == 200, response.content
    data = response.json()
    assert {(g["key"], g["period"]): g["count"] for g in data["groups"]} == expected
    assert data["total"] == (2 if "hazard=malfunction" in query else 3)


@pytest.mark.parametrize(
    "query", ["", "dimension=colour", "dimension=hazard&interval=week", "dimension=hazard&country=XX"]
)
def test_bad_stats_queries_are_a_400(api, catalogue, query):
    response = api.get(f"/api/v1/stats/?{query}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] in {"dimension", "interval", "country"}


# --- conditional requests and the taxonomy version ---------------------------------


def test_etag_gives_304_until_something_changes(api, catalogue, moderator):
    url = "/api/v1/incidents/"
    first = api.get(url)
    etag = first["ETag"]

    assert api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304

    services.incident_update(incident=catalogue["faces"], actor=moderator, title="Face recognition: the wrong man")
    assert api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_detail_has_last_modified(api, catalogue):
    response = api.get(f"/api/v1/incidents/{catalogue['chatbot'].public_id}/")
    later = api.get(
        f"/api/v1/incidents/{catalogue['chatbot'].public_id}/", HTTP_IF_MODIFIED_SINCE=response["Last-Modified"]
    )

    assert response["Last-Modified"]
    assert later.status_code == 304


def test_every_answer_says_which_taxonomy_version(api, catalogue):
    for url in ["/api/v1/incidents/", "/api/v1/stats/?dimension=hazard", "/api/v1/export/incidents.jsonl"]:
        assert "iasr-2025=2025.1" in api.get(url)["Taxonomy-Version"]
    assert "iasr-2025=2025.1" in api.get("/api/v1/stats/?dimension=nope")["Taxonomy-Version"]


# --- a fixed number of queries -----------------------------------------------------


def _many(n: int) -> None:
    entity = EntityFactory.create()
    for i in range(n):
        incident = published_incident(
            title=f"Bulk incident {i}",
            tags=[
                ("iasr-2025", "malfunction.bias"),
                ("oecd-harm-type", "human-rights"),
                ("failure-mode", "sycophancy"),
            ],
        )
        involve(incident, entity)
        for _ in range(2):
            link(ReportFactory.create(source_url="https://example.org/a"), incident)


def _count(api, url: str) -> int:
    cache.clear()  # the taxonomy version is cached: count its query every time
    with CaptureQueriesContext(connection) as queries:
        response = api.get(url)
        body(response)
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/incidents/?page_size={n}",
        "/api/v1/incidents/?page_size={n}&hazard=malfunction&country=US&verification=corroborated",
        "/api/v1/reports/?page_size={n}",
        "/api/v1/entities/?page_size={n}",
        "/api/v1/stats/?dimension=hazard&interval=year&page_size={n}",
        "/api/v1/stats/?dimension=country&page_size={n}",
    ],
)
def test_a_list_costs_the_same_queries_for_5_or_40_rows(api, db, url):
    _many(5)
    few = _count(api, url.format(n=5))
    _many(35)
    many = _count(api, url.format(n=40))

    assert few == many
    assert many <= 8


def test_an_export_costs_queries_per_chunk_not_per_row(api, db):
    _many(12)
    small = _count(api, "/api/v1/incidents/?format=csv")
    _many(30)
    large = _count(api, "/api/v1/incidents/?format=csv")

    assert small == large


def test_a_detail_costs_a_fixed_number_of_queries(api, db):
    _many(1)
    incident = Incident.objects.get()
    one = _count(api, f"/api/v1/incidents/{incident.public_id}/")
    for _ in range(10):
        link(ReportFactory.create(), incident)

    assert _count(api, f"/api/v1/incidents/{incident.public_id}/") == one


def test_entities_as_csv(api, catalogue):
    rows = list(csv.DictReader(io.StringIO(body(api.get("/api/v1/entities/?format=csv")).decode())))

    assert {r["slug"]: r["incident_count"] for r in rows} == {"clearview-ai": "1", "openai": "1"}
    assert rows[1]["aliases"] == "ChatGPT maker"


@pytest.mark.parametrize("url", ["/api/v1/reports/{report}/?format=csv", "/api/v1/entities/openai/?format=csv"])
def test_csv_is_for_lists(api, catalogue, url):
    response = api.get(url.format(report=catalogue["reports"][0].pk))

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_records_have_exactly_the_fields_the_schema_declares(api, catalogue):
    from api.serializers import IncidentDetailSerializer, IncidentSerializer

    listed = api.get("/api/v1/incidents/").json()["results"][0]
    detail = api.get(f"/api/v1/incidents/{catalogue['chatbot'].public_id}/").json()

    assert list(listed) == list(IncidentSerializer().fields)
    assert list(detail) == list(IncidentDetailSerializer().fields)
