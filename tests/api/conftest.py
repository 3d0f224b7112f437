"""Fixtures for the API: a client, keys of each kind, a small published catalogue."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiKey
from api.services import api_key_create, api_key_revoke
from incidents.models import IncidentEntity, ReportIncidentLink

from ..factories import EntityFactory, IncidentFactory, ReportFactory, link, published_incident


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def client_with(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def read_key(public_user):
    key, raw = api_key_create(user=public_user, name="research")
    return key, raw


@pytest.fixture
def submit_key(public_user):
    key, raw = api_key_create(user=public_user, name="reporting tool", scope=ApiKey.Scope.SUBMIT)
    return key, raw


@pytest.fixture
def regulator_key(regulator):
    key, raw = api_key_create(user=regulator, name="supervision")
    return key, raw


@pytest.fixture
def revoked_key(public_user):
    key, raw = api_key_create(user=public_user, name="old", scope=ApiKey.Scope.SUBMIT)
    api_key_revoke(key=key)
    return key, raw


@pytest.fixture
def catalogue(db):
    """Three published incidents, a draft and what links them; every private field filled."""
    openai = EntityFactory.create(name="OpenAI", slug="openai", aliases=["ChatGPT maker"])
    clearview = EntityFactory.create(name="Clearview AI", slug="clearview-ai")
    chatbot = published_incident(
        title="Chatbot invents a refund policy",
        description="A customer-service chatbot invented a policy.",
        countries=["CA"],
        date_occurred=datetime.date(2024, 2, 1),
        tags=[
            ("iasr-2025", "malfunction.reliability"),
            ("oecd-harm-type", "economic-property"),
            ("failure-mode", "confabulation"),
            ("oecd-stakeholder", "consumers"),
            ("oecd-industry", "isic:H"),
        ],
    )
    faces = published_incident(
        title="Face recognition misidentifies a shopper",
        description="A facial recognition system flagged the wrong person.",
        countries=["US", "GB"],
        date_occurred=datetime.date(2023, 6, 1),
        tags=[("iasr-2025", "malfunction.bias"), ("oecd-harm-type", "human-rights")],
    )
    deepfake = published_incident(
        title="Deepfake of a politician spreads",
        description="A fabricated video circulated before an election.",
        countries=["US"],
        date_occurred=datetime.date(2025, 1, 10),
        tags=[("iasr-2025", "malicious-use.fake-content"), ("oecd-harm-type", "public-interest")],
    )
    draft = IncidentFactory.create(title="Draft: secret draft incident", description="Not yet reviewed.")
    IncidentEntity.objects.create(incident=chatbot, entity=openai, role=IncidentEntity.Role.DEVELOPER)
    IncidentEntity.objects.create(incident=faces, entity=clearview, role=IncidentEntity.Role.DEVELOPER)
    IncidentEntity.objects.create(incident=draft, entity=openai, role=IncidentEntity.Role.DEPLOYER)
    reports = []
    for incident, n in ((chatbot, 2), (faces, 1), (deepfake, 1)):
        for i in range(n):
            report = ReportFactory.create(
                title=f"News about {incident.title} ({i})",
                text="PRIVATE-TEXT of the report",
                contact_email="private-sender@example.org",
                harm="PRIVATE-HARM",
                source_url=f"https://news.example.org/{incident.pk}/{i}",
                publisher="Example News",
                date_published=datetime.date(2024, 3, 1),
            )
            link(report, incident)
            reports.append(report)
    hidden = ReportFactory.create(title="Unpublished report title SECRET", contact_email="hidden@example.org")
    link(hidden, draft)
    pending = ReportFactory.create(title="Auto-linked, unconfirmed SECRET", contact_email="pending@example.org")
    ReportIncidentLink.objects.create(
        report=pending, incident=deepfake, method=ReportIncidentLink.Method.DEDUP, score=0.95, confirmed=False
    )
    return {
        "chatbot": chatbot,
        "faces": faces,
        "deepfake": deepfake,
        "draft": draft,
        "reports": reports,
        "hidden": hidden,
        "pending": pending,
        "openai": openai,
        "now": timezone.now(),
    }
