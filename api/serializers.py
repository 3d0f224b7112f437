"""What the API shows of each record: public fields only.

The incident shape follows the AIM-style record (``docs/api.md``): vocabularies by
field (``hazards``, ``harm_types`` …), entities with their role, verification,
``modified`` for incremental sync. Reports show where they were published, never
their text, the submitter, a contact e-mail or evidence.
"""

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.models import Entity, Incident, IncidentEntity, Report, ReportIncidentLink, Tagging
from incidents.selectors import verification_status
from taxonomy.models import Mapping, Term, Vocabulary

# Incident field ← vocabulary code. Every vocabulary an incident can be tagged with appears.
TAG_FIELDS = {
    "hazards": "iasr-2025",
    "failure_modes": "failure-mode",
    "harm_types": "oecd-harm-type",
    "stakeholders": "oecd-stakeholder",
    "industries": "oecd-industry",
    "principles": "oecd-principle",
    "lifecycle": "oecd-lifecycle",
    "ai_relation": "oecd-ai-relation",
    "system_flags": "system-flag",
}


def incident_api_prefetch(queryset: QuerySet[Incident], *, with_reports: bool = False) -> QuerySet[Incident]:
    """Everything the incident serializer reads, in a fixed number of queries."""
    taggings = Tagging.objects.select_related("term__vocabulary").prefetch_related(
        Prefetch("term__mappings_out", queryset=Mapping.objects.select_related("target"))
    )
    lookups: list[Any] = [
        Prefetch("taggings", queryset=taggings.order_by("term__vocabulary__sort_order", "term__sort_order")),
        Prefetch("entity_links", queryset=IncidentEntity.objects.select_related("entity")),
    ]
    if with_reports:
        lookups.append(
            Prefetch(
                "links",
                queryset=ReportIncidentLink.objects.filter(confirmed=True)
                .select_related("report")
                .order_by("report__date_published", "report__pk"),
                to_attr="public_links",
            )
        )
    return queryset.select_related("severity").prefetch_related(*lookups)


class TermRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()


class EntityRoleSerializer(serializers.Serializer):
    slug = serializers.CharField(source="entity.slug")
    name = serializers.CharField(source="entity.name")
    kind = serializers.CharField(source="entity.kind")
    role = serializers.CharField()


class VerificationSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["unverified", "corroborated", "confirmed"])
    reports = serializers.IntegerField(help_text=_("Reports a moderator confirmed."))
    reproductions = serializers.IntegerField(help_text=_("Audit reproductions (audits are not in the API yet)."))


class ReportRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="report.pk")
    title = serializers.CharField(source="report.title")
    url = serializers.CharField(source="report.source_url")
    publisher = serializers.CharField(source="report.publisher")
    date_published = serializers.DateField(source="report.date_published", allow_null=True)
    language = serializers.CharField(source="report.language")


def _tags(incident: Incident, vocabulary: str) -> list[dict[str, str]]:
    return [
        {"code": t.term.code, "label": t.term.label}
        for t in incident.taggings.all()
        if t.term.vocabulary.code == vocabulary
    ]


@extend_schema_field(TermRefSerializer(many=True))
class TagsField(serializers.Field):
    """An incident's terms of one vocabulary, read from the prefetched taggings."""

    def __init__(self, vocabulary: str, **kwargs: Any) -> None:
        self.vocabulary = vocabulary
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: Incident) -> list[dict[str, str]]:
        return _tags(value, self.vocabulary)


class IncidentSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", help_text=_("Stable public id, e.g. INC-2026-000123."))
    url = serializers.SerializerMethodField(help_text=_("The incident's public page."))
    event_type = serializers.CharField(help_text=_("“incident” (harm occurred) or “hazard”, from the severity."))
    countries = serializers.SerializerMethodField(help_text=_("ISO 3166-1 alpha-2 codes."))
    severity = serializers.SerializerMethodField()
    autonomy_level = serializers.SerializerMethodField()
    hazards = TagsField("iasr-2025", help_text=_("iasr-2025 hazard categories (and families)."))
    failure_modes = TagsField(TAG_FIELDS["failure_modes"])
    harm_types = TagsField(TAG_FIELDS["harm_types"])
    stakeholders = TagsField(TAG_FIELDS["stakeholders"])
    industries = TagsField(TAG_FIELDS["industries"])
    principles = TagsField(TAG_FIELDS["principles"])
    lifecycle = TagsField(TAG_FIELDS["lifecycle"])
    ai_relation = TagsField(TAG_FIELDS["ai_relation"])
    system_flags = TagsField(TAG_FIELDS["system_flags"])
    mit_domains = serializers.SerializerMethodField(help_text=_("MIT AI Risk Repository codes, by the crosswalk."))
    entities = EntityRoleSerializer(source="entity_links", many=True)
    verification = serializers.SerializerMethodField()
    date_published = serializers.DateTimeField(source="published_at", help_text=_("First published here."))
    modified = serializers.DateTimeField(help_text=_("Any public change; use with ``updated_since``."))
    status = serializers.ChoiceField(
        choices=["published", "withdrawn", "merged"],
        help_text=_(
            "“published”; in a sync pull (``updated_since`` or ``ordering=modified``) also “withdrawn” or “merged”: "
            "a tombstone that says the incident left the public set, with every other field empty."
        ),
    )
    withdrawn = serializers.SerializerMethodField(help_text=_("When it was withdrawn, or null."))
    duplicate_of = serializers.SerializerMethodField(help_text=_("The incident it was merged into, or null."))

    class Meta:
        model = Incident
        fields = [
            "id",
            "url",
            "event_type",
            "title",
            "description",
            "date_occurred",
            "countries",
            "severity",
            "autonomy_level",
            "hazards",
            "failure_modes",
            "harm_types",
            "stakeholders",
            "industries",
            "principles",
            "lifecycle",
            "ai_relation",
            "system_flags",
            "mit_domains",
            "entities",
            "verification",
            "date_published",
            "modified",
            "status",
            "withdrawn",
            "duplicate_of",
        ]

    def to_representation(self, instance: Incident) -> dict[str, Any]:
        data = super().to_representation(instance)
        if instance.status == Incident.Status.PUBLISHED:
            return data
        # A tombstone: which incident left, when and where to; nothing of its content.
        kept = {"id", "url", "status", "withdrawn", "duplicate_of", "date_published", "modified"}
        for name, value in data.items():
            if name not in kept:
                data[name] = [] if isinstance(value, list) else (None if value is None else type(value)())
        data["event_type"] = ""
        data["verification"] = {"status": "unverified", "reports": 0, "reproductions": 0}
        return data

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_withdrawn(self, incident: Incident) -> Any:
        if incident.status != Incident.Status.WITHDRAWN:
            return None
        return serializers.DateTimeField().to_representation(incident.modified)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_duplicate_of(self, incident: Incident) -> str | None:
        if incident.status != Incident.Status.MERGED or incident.merged_into is None:
            return None
        return incident.merged_into.public_id

    def get_url(self, incident: Incident) -> str:
        request = self.context.get("request")
        path = incident.get_absolute_url()
        return request.build_absolute_uri(path) if request is not None else path

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_countries(self, incident: Incident) -> list[str]:
        return [c.code for c in incident.countries]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_severity(self, incident: Incident) -> str | None:
        return incident.severity.code if incident.severity else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_autonomy_level(self, incident: Incident) -> str | None:
        found = _tags(incident, "oecd-autonomy")
        return found[0]["code"] if found else None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_mit_domains(self, incident: Incident) -> list[str]:
        codes: set[str] = set()
        for tagging in incident.taggings.all():
            if tagging.term.vocabulary.code == "iasr-2025":
                codes.update(m.target.code for m in tagging.term.mappings_out.all())
        return sorted(codes)

    @extend_schema_field(VerificationSerializer)
    def get_verification(self, incident: Incident) -> dict[str, Any]:
        reports = getattr(incident, "confirmed_reports", 0)
        return {"status": verification_status(reports), "reports": reports, "reproductions": 0}


class IncidentDetailSerializer(IncidentSerializer):
    reports = ReportRefSerializer(source="public_links", many=True, help_text=_("Supporting reports (sources)."))

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "reports"]


class ReportSerializer(serializers.ModelSerializer):
    """A report's public fields."""

    url = serializers.CharField(source="source_url", help_text=_("Where it was published, if anywhere."))
    incidents = serializers.SerializerMethodField(help_text=_("Public ids of the published incidents it supports."))

    class Meta:
        model = Report
        fields = ["id", "title", "url", "publisher", "authors", "language", "date_published", "channel", "incidents"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_incidents(self, report: Report) -> list[str]:
        return self.context.get("incident_ids", {}).get(report.pk, [])


class EntitySerializer(serializers.ModelSerializer):
    aliases = serializers.SerializerMethodField()
    incident_count = serializers.IntegerField(help_text=_("Published incidents it is involved in."))

    class Meta:
        model = Entity
        fields = ["slug", "name", "kind", "description", "aliases", "incident_count"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_aliases(self, entity: Entity) -> list[str]:
        return sorted(a.alias for a in entity.aliases.all() if a.alias != entity.name)


class EntityIncidentSerializer(serializers.Serializer):
    id = serializers.CharField(source="incident.public_id")
    title = serializers.CharField(source="incident.title")
    role = serializers.CharField()


class EntityDetailSerializer(EntitySerializer):
    incidents = EntityIncidentSerializer(source="public_incident_links", many=True)

    class Meta(EntitySerializer.Meta):
        fields = [*EntitySerializer.Meta.fields, "incidents"]


class TermSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    deprecated_by = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Term
        fields = ["code", "label", "definition", "parent", "deprecated_by", "unconfirmed"]


class VocabularySerializer(serializers.ModelSerializer):
    terms = TermSerializer(many=True)

    class Meta:
        model = Vocabulary
        fields = ["code", "name", "version", "description", "multiple", "source", "terms"]


class MappingSerializer(serializers.Serializer):
    source_vocabulary = serializers.CharField(source="source.vocabulary.code")
    source = serializers.CharField(source="source.code")
    target_vocabulary = serializers.CharField(source="target.vocabulary.code")
    target = serializers.CharField(source="target.code")
    version = serializers.CharField()


class StatsGroupSerializer(serializers.Serializer):
    key = serializers.CharField(allow_null=True, help_text=_("The code (or country, entity slug …); null: not set."))
    label = serializers.CharField()
    period = serializers.CharField(allow_null=True, help_text=_("YYYY or YYYY-MM with ``interval``; else null."))
    count = serializers.IntegerField()


class StatsSerializer(serializers.Serializer):
    dimension = serializers.CharField()
    interval = serializers.CharField(allow_null=True)
    date_field = serializers.CharField()
    total = serializers.IntegerField(help_text=_("Incidents matching the filters (each once)."))
    groups = StatsGroupSerializer(many=True)


class ModerationStatsSerializer(serializers.Serializer):
    reports_awaiting_moderation = serializers.IntegerField()
    reports_by_status = serializers.DictField(child=serializers.IntegerField())
    reports_by_channel = serializers.DictField(child=serializers.IntegerField())
    oldest_open_report_days = serializers.FloatField(allow_null=True)
    incidents_by_status = serializers.DictField(child=serializers.IntegerField())
    dedup_decisions = serializers.DictField(child=serializers.IntegerField())


class ReportSubmitSerializer(serializers.Serializer):
    """The body of a submission; validated by the web form's own rules (``ReportForm``)."""

    title = serializers.CharField(max_length=300, help_text=_("In one sentence, what happened?"))
    text = serializers.CharField(max_length=20000, help_text=_("What the AI system did, who was affected and how."))
    date_occurred = serializers.DateField(required=False, allow_null=True)
    countries = serializers.ListField(child=serializers.CharField(max_length=2), required=False, max_length=50)
    ai_system = serializers.CharField(required=False, allow_blank=True, max_length=300)
    harm = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    submitter_role = serializers.ChoiceField(choices=Report.SubmitterRole.choices, required=False, allow_blank=True)
    source_url = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    links = serializers.ListField(child=serializers.CharField(max_length=1000), required=False, max_length=20)
    hazard_guesses = serializers.ListField(
        child=serializers.CharField(max_length=80),
        required=False,
        max_length=16,
        help_text=_("iasr-2025 category codes, e.g. malfunction.reliability."),
    )
    contact_email = serializers.EmailField(required=False, allow_blank=True, help_text=_("Private; never shown."))
    consent = serializers.BooleanField(help_text=_("Must be true: the platform may review and publish it."))


class ReportReceiptSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    status_url = serializers.CharField(help_text=_("The private page where the submitter follows the report."))
    created = serializers.DateTimeField()
