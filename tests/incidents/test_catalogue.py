"""The public catalogue, the incident page, the taxonomy pages and /healthz."""

import datetime
import json
import re

import pytest
from django.db import OperationalError

from config import health
from incidents import services
from incidents.models import Incident, IncidentEntity

from ..factories import EntityFactory, IncidentFactory, ReportFactory, involve, link, published_incident, term
from .test_reporting import visible_text

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def public_ids(response) -> list[str]:
    """The incident ids a page shows, in order, each once."""
    return list(dict.fromkeys(re.findall(r"INC-\d{4}-\d{6}", visible_text(response))))


def listed(client, **params) -> list[str]:
    """Public ids the catalogue lists for these filters, in page order."""
    response = client.get("/incidents/", params, **HTMX)
    assert response.status_code == 200
    return public_ids(response)


# --- What is public -----------------------------------------------------------------


@pytest.fixture
def unpublished():
    return [
        IncidentFactory.create(public_id="INC-2025-000901", title="Secret draft about drones"),
        IncidentFactory.create(
            public_id="INC-2025-000902", title="Withdrawn hoax about drones", status=Incident.Status.WITHDRAWN
        ),
    ]


def test_only_published_incidents_are_listed(client, unpublished):
    published_incident(public_id="INC-2025-000900", title="Published story about drones")

    assert listed(client) == ["INC-2025-000900"]
    text = visible_text(client.get("/incidents/"))
    assert "Published story about drones" in text
    assert "Secret draft" not in text
    assert "Withdrawn hoax" not in text


def test_search_never_finds_unpublished_incidents(client, unpublished):
    published_incident(public_id="INC-2025-000900", title="Published story about drones")

    assert listed(client, q="drones") == ["INC-2025-000900"]
    assert listed(client, q="secret") == []
    assert listed(client, q="INC-2025-000901") == []


@pytest.mark.parametrize("public_id", ["INC-2025-000901", "INC-2025-000902", "INC-2099-999999"])
def test_unpublished_or_unknown_incident_page_is_not_found(client, unpublished, public_id):
    assert client.get(f"/incidents/{public_id}/").status_code == 404


def test_a_merged_incident_redirects_permanently_to_its_target(client):
    target = published_incident(public_id="INC-2025-000910")
    IncidentFactory.create(public_id="INC-2025-000911", status=Incident.Status.MERGED, merged_into=target)

    response = client.get("/incidents/INC-2025-000911/")

    assert response.status_code == 301
    assert response["Location"] == "/incidents/INC-2025-000910/"
    assert listed(client) == ["INC-2025-000910"]


def test_home_page_shows_recently_published_incidents_only(client, unpublished):
    published_incident(title="Published story about drones")

    text = visible_text(client.get("/"))

    assert "Published story about drones" in text
    assert "Secret draft" not in text


# --- Facets ------------------------------------------------------------------------


@pytest.fixture
def catalogue():
    """Four published incidents that differ in every facet."""
    openai = EntityFactory.create(name="OpenAI", slug="openai")
    bias = published_incident(
        public_id="INC-2025-000101",
        title="Hiring model ranked women lower",
        description="A screening model preferred male candidates.",
        date_occurred=datetime.date(2023, 3, 1),
        countries=["FR", "US"],
        severity=term("oecd-severity", "serious-incident"),
        tags=[("iasr-2025", "malfunction.bias"), ("oecd-harm-type", "human-rights")],
    )
    involve(bias, openai)
    reliability = published_incident(
        public_id="INC-2025-000102",
        title="Chatbot invented a refund policy",
        date_occurred=datetime.date(2024, 2, 14),
        countries=["CA"],
        tags=[("iasr-2025", "malfunction.reliability"), ("oecd-harm-type", "economic-property")],
    )
    deepfake = published_incident(
        public_id="INC-2025-000103",
        title="Voice clone used in a bank fraud",
        date_occurred=datetime.date(2024, 9, 30),
        countries=["SG"],
        tags=[("iasr-2025", "malicious-use.fake-content"), ("oecd-harm-type", "economic-property")],
    )
    undated = published_incident(public_id="INC-2025-000104", title="Agent deleted a database", date_occurred=None)
    return {"bias": bias, "reliability": reliability, "deepfake": deepfake, "undated": undated}


def test_without_filters_the_newest_come_first_and_undated_last(client, catalogue):
    assert listed(client) == ["INC-2025-000103", "INC-2025-000102", "INC-2025-000101", "INC-2025-000104"]


def test_a_hazard_family_includes_its_categories(client, catalogue):
    assert listed(client, hazard="malfunction") == ["INC-2025-000102", "INC-2025-000101", "INC-2025-000104"]
    assert listed(client, hazard="malicious-use") == ["INC-2025-000103"]


def test_a_hazard_category_finds_only_itself(client, catalogue):
    assert listed(client, hazard="malfunction.bias") == ["INC-2025-000101"]


def test_filter_by_harm_type(client, catalogue):
    assert listed(client, harm="human-rights") == ["INC-2025-000101"]


def test_filter_by_severity(client, catalogue):
    assert listed(client, severity="serious-incident") == ["INC-2025-000101"]


@pytest.mark.parametrize(("country", "expected"), [("US", ["INC-2025-000101"]), ("FR", ["INC-2025-000101"]),
                                                    ("SG", ["INC-2025-000103"]), ("DE", [])])  # fmt: skip
def test_a_multi_country_incident_is_found_by_each_of_its_countries(client, catalogue, country, expected):
    assert listed(client, country=country) == expected


@pytest.mark.parametrize("fragment", ["S", "F", "R,U"])
def test_a_piece_of_a_country_code_finds_nothing(client, catalogue, fragment):
    response = client.get("/incidents/", {"country": fragment})

    assert listed(client, country=fragment) == []
    assert "Select a valid choice." in visible_text(response)


@pytest.mark.parametrize("name", ["openai", "OpenAI", "Open AI", "openai.com"])
def test_filter_by_organisation_under_any_of_its_names(client, catalogue, name):
    assert listed(client, entity=name) == ["INC-2025-000101"]


def test_filter_by_an_unknown_organisation_finds_nothing(client, catalogue):
    assert listed(client, entity="Anthropic") == []


def test_filter_by_date_range(client, catalogue):
    assert listed(client, date_from="2024-01-01", date_to="2024-06-30") == ["INC-2025-000102"]
    assert listed(client, date_from="2024-01-01") == ["INC-2025-000103", "INC-2025-000102"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("refund", ["INC-2025-000102"]),
        ("voice fraud", ["INC-2025-000103"]),
        ("candidates", ["INC-2025-000101"]),  # a word of the description
        ("voice refund", []),  # every word must match
    ],
)
def test_search_by_words(client, catalogue, q, expected):
    assert listed(client, q=q) == expected


def test_search_by_public_id(client, catalogue):
    assert listed(client, q="INC-2025-000102") == ["INC-2025-000102"]


def test_sort_orders(client, catalogue):
    assert listed(client, sort="date") == ["INC-2025-000101", "INC-2025-000102", "INC-2025-000103", "INC-2025-000104"]
    assert listed(client, sort="title") == ["INC-2025-000104", "INC-2025-000102", "INC-2025-000101", "INC-2025-000103"]


def test_filters_combine(client, catalogue):
    assert listed(client, hazard="malfunction", harm="economic-property", date_from="2024-01-01") == ["INC-2025-000102"]


def test_no_match_offers_to_clear_the_filters(client, catalogue):
    text = visible_text(client.get("/incidents/", {"hazard": "systemic"}))

    assert "0 incidents found" in text
    assert "No published incident matches these filters." in text


def test_htmx_request_gets_only_the_results(client, catalogue):
    response = client.get("/incidents/", {"hazard": "malfunction.bias"}, **HTMX)

    assert "<form" not in response.content.decode()
    assert "<html" not in response.content.decode()
    text = visible_text(response)
    assert text.startswith("1 incident found")
    assert "Hiring model ranked women lower" in text


def test_the_list_is_paged_and_keeps_the_filters(client):
    for n in range(21):
        published_incident(title=f"Incident {n:02d}")

    first = client.get("/incidents/", {"hazard": "malfunction"})
    second = listed(client, hazard="malfunction", page=2)

    assert "21 incidents found" in visible_text(first)
    assert len(public_ids(first)) == 20
    assert 'href="?hazard=malfunction&amp;page=2"' in first.content.decode()
    assert len(second) == 1


# --- The incident page --------------------------------------------------------------


@pytest.fixture
def full_incident(moderator):
    incident = published_incident(
        public_id="INC-2025-000200",
        title="Face recognition led to a wrongful arrest",
        description="Police relied on a **false match**.",
        description_html="<p>Police relied on a <strong>false match</strong>.</p>",
        countries=["US"],
        tags=[("iasr-2025", "malfunction.bias"), ("oecd-harm-type", "human-rights")],
    )
    involve(incident, EntityFactory.create(name="Clearview AI", slug="clearview-ai"))
    news = ReportFactory.create(
        title="Man wrongly arrested after face match",
        source_url="https://news.example.org/arrest",
        publisher="Example News",
        date_published=datetime.date(2024, 6, 1),
    )
    link(news, incident)
    services.incident_update(incident=incident, actor=moderator, title="Face recognition led to a wrongful arrest!")
    return incident


def test_incident_page_shows_tags_with_their_explanations(client, full_incident):
    response = client.get("/incidents/INC-2025-000200/")

    text = visible_text(response)
    bias = term("iasr-2025", "malfunction.bias")
    assert f"{bias.label} Hazard categories {bias.definition}" in text
    assert term("oecd-harm-type", "human-rights").definition in text
    assert term("oecd-severity", "incident").definition in text
    assert 'href="/taxonomy/iasr-2025/malfunction.bias/"' in response.content.decode()


def test_incident_page_shows_entities_reports_and_history(client, full_incident):
    response = client.get("/incidents/INC-2025-000200/")

    page = response.content.decode()
    assert "<p>Police relied on a <strong>false match</strong>.</p>" in page
    assert 'href="/incidents/?entity=clearview-ai"' in page
    assert 'href="https://news.example.org/arrest"' in page
    text = visible_text(response)
    assert "Clearview AI (Organisation, developer)" in text
    assert "Man wrongly arrested after face match Example News, 1 Jun 2024" in text
    assert (
        "Edited; title: Face recognition led to a wrongful arrest → Face recognition led to a wrongful arrest!" in text
    )


def test_incident_page_offers_a_citation_with_the_stable_id(client, full_incident):
    response = client.get("/incidents/INC-2025-000200/")

    text = visible_text(response)
    assert "Cite this incident" in text
    assert (
        "Incident Commons, “Face recognition led to a wrongful arrest!”, INC-2025-000200. "
        "http://testserver/incidents/INC-2025-000200/" in text
    )
    assert '<link rel="canonical" href="http://testserver/incidents/INC-2025-000200/">' in response.content.decode()


def test_a_rejected_reports_details_stay_private_on_the_incident_page(client, full_incident):
    private = ReportFactory.create(title="Sent by a witness", contact_email="witness@example.org")
    link(private, full_incident)

    response = client.get("/incidents/INC-2025-000200/")

    assert "Sent by a witness" in visible_text(response)
    assert b"witness@example.org" not in response.content


# --- Query counts -------------------------------------------------------------------

FILTERS = {"hazard": "malfunction", "country": "US", "entity": "Open AI"}


def rich_incidents(count):
    openai = EntityFactory.create(name="OpenAI")
    for n in range(count):
        incident = published_incident(
            title=f"Incident {n}",
            countries=["FR", "US"],
            tags=[("iasr-2025", "malfunction.bias"), ("iasr-2025", "systemic.privacy"), ("oecd-harm-type", "other")],
        )
        involve(incident, openai)
        involve(incident, EntityFactory.create(), role=IncidentEntity.Role.DEPLOYER)


# Measured on SQLite; the same for 5 rows and for 40 (a page shows 20).
@pytest.mark.parametrize("count", [5, 40])
@pytest.mark.parametrize(
    ("path", "params", "queries"),
    [
        ("/incidents/", {}, 7),
        # A hazard costs two more: checking the code, and finding a family's categories.
        ("/incidents/", FILTERS, 9),
        ("/", {}, 5),
        ("/taxonomy/", {}, 4),
        ("/taxonomy/iasr-2025/malfunction/", {}, 7),
    ],
    ids=["list", "filtered-list", "home", "taxonomy", "family"],
)
def test_list_pages_cost_the_same_queries_for_5_and_40_incidents(
    client, django_assert_max_num_queries, count, path, params, queries
):
    rich_incidents(count)

    with django_assert_max_num_queries(queries):
        response = client.get(path, params)

    assert response.status_code == 200
    if path != "/taxonomy/":
        assert len(public_ids(response)) == min(count, 6 if path == "/" else 20)


@pytest.mark.parametrize("count", [1, 20])
def test_incident_page_costs_the_same_queries_for_1_and_20_reports(
    client, moderator, django_assert_max_num_queries, count
):
    incident = published_incident(public_id="INC-2025-000300")
    involve(incident, EntityFactory.create())
    for n in range(count):
        link(ReportFactory.create(title=f"Report {n}", source_url=f"https://example.org/{n}"), incident)
        services.incident_update(incident=incident, actor=moderator, title=f"Title {n}")

    # The incident, its tags, entities, reports, revisions and their authors.
    with django_assert_max_num_queries(6):
        response = client.get("/incidents/INC-2025-000300/")

    assert response.content.decode().count('href="https://example.org/') == count
    assert visible_text(response).count("Edited; title:") == count


# --- Taxonomy pages -----------------------------------------------------------------


def shown_with_count(code: str, count: int) -> str:
    """What the taxonomy page reads for a category ("Bias 2 incidents The AI's ...")
    or a family ("Risks from malfunctions 2 Harm that ...")."""
    shown = term("iasr-2025", code)
    if "." in code:
        return f"{shown.label} {count} incident{'' if count == 1 else 's'} {shown.definition}"
    return f"{shown.label} {count} {shown.definition}"


def test_taxonomy_page_counts_published_incidents_per_category_and_family(client):
    published_incident(tags=[("iasr-2025", "malfunction.bias"), ("iasr-2025", "malfunction.reliability")])
    published_incident(tags=[("iasr-2025", "malfunction.bias")])
    published_incident(tags=[("iasr-2025", "systemic.privacy")])
    IncidentFactory.create(tags=[("iasr-2025", "malfunction.bias")])  # a draft does not count

    response = client.get("/taxonomy/")

    assert response.status_code == 200
    text = visible_text(response)
    assert shown_with_count("malfunction.bias", 2) in text
    assert shown_with_count("malfunction.reliability", 1) in text
    assert shown_with_count("malfunction.loss-of-control", 0) in text
    # The family counts each incident once, though the first has two of its categories.
    assert shown_with_count("malfunction", 2) in text
    assert shown_with_count("systemic", 1) in text
    assert shown_with_count("malicious-use", 0) in text


def test_a_category_page_lists_its_published_incidents(client):
    published_incident(title="Biased hiring model", tags=[("iasr-2025", "malfunction.bias")])
    published_incident(title="Leaky chatbot", tags=[("iasr-2025", "systemic.privacy")])
    IncidentFactory.create(title="Biased draft", tags=[("iasr-2025", "malfunction.bias")])

    response = client.get("/taxonomy/iasr-2025/malfunction.bias/")

    assert response.status_code == 200
    text = visible_text(response)
    assert "1 published incident" in text
    assert "Biased hiring model" in text
    assert "Leaky chatbot" not in text
    assert "Biased draft" not in text


def test_a_family_page_lists_the_incidents_of_its_categories_once(client):
    incident = published_incident(
        title="Biased and unreliable",
        tags=[("iasr-2025", "malfunction.bias"), ("iasr-2025", "malfunction.reliability")],
    )

    response = client.get("/taxonomy/iasr-2025/malfunction/")

    assert "1 published incident" in visible_text(response)
    assert public_ids(response) == [incident.public_id]
    assert visible_text(response).count("Biased and unreliable") == 1


@pytest.mark.parametrize("path", ["/taxonomy/iasr-2025/no-such-code/", "/taxonomy/no-such-vocabulary/malfunction/"])
def test_an_unknown_term_is_not_found(client, path):
    assert client.get(path).status_code == 404


# --- /healthz -----------------------------------------------------------------------


def test_healthz_reports_database_and_in_process_tasks(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True

    response = client.get("/healthz")

    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"] == {"ok": True, "mode": "in-process"}
    assert "no-cache" in response["Cache-Control"]


class BrokenConnection:
    vendor = "postgresql"

    def cursor(self):
        raise OperationalError("could not connect to server")


def test_healthz_is_unavailable_when_the_database_fails(client, settings, monkeypatch):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    monkeypatch.setattr(health, "connection", BrokenConnection())

    response = client.get("/healthz")

    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "unavailable"
    assert body["database"] == {"ok": False, "vendor": "postgresql", "error": "OperationalError"}


@pytest.fixture
def unreachable_broker(settings, monkeypatch):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # Celery reads the variable before its configuration; port 1 here refuses at once.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")


def test_healthz_is_unavailable_when_the_broker_cannot_be_reached(client, unreachable_broker):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is False
    assert body["broker"]["mode"] == "broker"
