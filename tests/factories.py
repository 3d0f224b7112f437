"""factory_boy factories for the tests (and the benchmarks)."""

import datetime

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from incidents.models import Entity, EntityAlias, Incident, IncidentEntity, Report, ReportIncidentLink, Tagging
from incidents.search import incident_index
from taxonomy.models import Term


def term(vocabulary: str, code: str) -> Term:
    return Term.objects.get(vocabulary__code=vocabulary, code=code)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.django.Password("a-long-test-password")

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        for name in extracted or []:
            self.groups.add(Group.objects.get(name=name))


class ReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Report

    title = factory.Sequence(lambda n: f"Chatbot gave wrong advice, case {n}")
    text = "A customer-service chatbot invented a refund policy."
    channel = Report.Channel.WEB
    contact_email = ""


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident
        skip_postgeneration_save = True

    # A year no test writes out: tests name ids such as INC-2025-000100 themselves, which the
    # sequence reached after enough tests (a duplicate key, depending on the order tests ran in).
    public_id = factory.Sequence(lambda n: f"INC-1999-{n + 1:06d}")
    title = factory.Sequence(lambda n: f"Incident number {n}")
    description = "An AI system caused harm."
    description_html = "<p>An AI system caused harm.</p>"
    date_occurred = datetime.date(2024, 5, 1)
    status = Incident.Status.DRAFT

    class Params:
        published = factory.Trait(
            status=Incident.Status.PUBLISHED,
            published_at=factory.LazyFunction(timezone.now),
            severity=factory.LazyFunction(lambda: term("oecd-severity", "incident")),
        )

    @factory.post_generation
    def tags(self, create: bool, extracted: list[tuple[str, str]] | None, **kwargs: object) -> None:
        for vocabulary, code in extracted or []:
            Tagging.objects.create(incident=self, term=term(vocabulary, code), source=Tagging.Source.MODERATOR)

    @factory.post_generation
    def search_index(self, create: bool, extracted: object, **kwargs: object) -> None:
        incident_index(self)  # as the services do (PostgreSQL only)


def published_incident(**kwargs: object) -> Incident:
    """A published incident tagged the way publishing requires."""
    tags = kwargs.pop("tags", [("iasr-2025", "malfunction.reliability"), ("oecd-harm-type", "economic-property")])
    return IncidentFactory(published=True, tags=tags, **kwargs)


class EntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Entity
        skip_postgeneration_save = True

    kind = Entity.Kind.ORGANISATION
    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")

    @factory.post_generation
    def aliases(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        EntityAlias.objects.create(entity=self, alias=self.name)
        for alias in extracted or []:
            EntityAlias.objects.create(entity=self, alias=alias)


def link(report: Report, incident: Incident) -> ReportIncidentLink:
    return ReportIncidentLink.objects.create(
        report=report, incident=incident, method=ReportIncidentLink.Method.MODERATOR
    )


def involve(incident: Incident, entity: Entity, role: str = IncidentEntity.Role.DEVELOPER) -> IncidentEntity:
    return IncidentEntity.objects.create(incident=incident, entity=entity, role=role)
