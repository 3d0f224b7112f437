"""What the API shows of each record: public fields only.

The incident shape follows the AIM-style record (``docs/api.md``): vocabularies by
field (``hazards``, ``harm_types`` …), entities with their role, verification,
``modified`` for incremental sync. Reports show where they were published, never
their text, the submitter, a contact e-mail or evidence.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ValidationErrorSerializer
from rest_framework import serializers

from incidents.models import Entity, Incident, Report
from taxonomy.models import Term, Vocabulary

from .incident_rows import incident_records


class TermRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()


class EntityRoleSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    role = serializers.CharField()


class VerificationSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["unverified", "corroborated", "confirmed"])
    reports = serializers.IntegerField(help_text=_("Reports a moderator confirmed."))
    reproductions = serializers.IntegerField(help_text=_("Audit reproductions (audits are not in the API yet)."))


class ReportRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField()
    publisher = serializers.CharField()
    date_published = serializers.DateField(allow_null=True)
    language = serializers.CharField()


@extend_schema_field(TermRefSerializer(many=True))
class TagsField(serializers.ListField):
    """An incident's terms of one vocabulary (for the schema; ``api.incident_rows`` fills it)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.DictField(), read_only=True, **kwargs)


class IncidentListSerializer(serializers.ListSerializer):
    """Builds a page (or an export chunk) of records in bulk: a fixed number of queries."""

    def to_representation(self, data: Any) -> list[dict[str, Any]]:
        rows = list(data.all() if hasattr(data, "all") else data)
        return incident_records(
            rows, request=self.context.get("request"), with_reports=getattr(self.child, "with_reports", False)
        )


def _strings(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(), read_only=True, **kwargs)


class IncidentSerializer(serializers.ModelSerializer):
    """The shape of an incident record. Its fields describe the schema; the values are built
    by ``api.incident_rows.incident_records``, in bulk."""

    with_reports = False

    id = serializers.CharField(source="public_id", help_text=_("Stable public id, e.g. INC-2026-000123."))
    url = serializers.URLField(read_only=True, help_text=_("The incident's public page."))
    event_type = serializers.CharField(
        help_text=_("“incident” (harm occurred) or “hazard”, from the severity; empty when not set.")
    )
    countries = _strings(help_text=_("ISO 3166-1 alpha-2 codes."))
    severity = serializers.CharField(allow_null=True, read_only=True, help_text=_("A code of oecd-severity."))
    autonomy_level = serializers.CharField(allow_null=True, read_only=True, help_text=_("A code of oecd-autonomy."))
    hazards = TagsField(help_text=_("iasr-2025 hazard categories (and families)."))
    failure_modes = TagsField()
    harm_types = TagsField()
    stakeholders = TagsField()
    industries = TagsField()
    principles = TagsField()
    lifecycle = TagsField()
    ai_relation = TagsField()
    system_flags = TagsField()
    mit_domains = _strings(help_text=_("MIT AI Risk Repository codes, by the crosswalk."))
    entities = EntityRoleSerializer(many=True, read_only=True)
    verification = VerificationSerializer(read_only=True)
    date_published = serializers.DateTimeField(source="published_at", help_text=_("First published here."))
    modified = serializers.DateTimeField(help_text=_("Any public change; use with ``updated_since``."))
    status = serializers.ChoiceField(
        choices=["published", "withdrawn", "merged"],
        help_text=_(
            "“published”; in a sync pull (``updated_since`` or ``ordering=modified``) also “withdrawn” or “merged”: "
            "a tombstone that says the incident left the public set, with every other field empty."
        ),
    )
    withdrawn = serializers.DateTimeField(allow_null=True, read_only=True, help_text=_("When it was withdrawn."))
    duplicate_of = serializers.CharField(
        allow_null=True, read_only=True, help_text=_("The incident it was merged into, or null.")
    )

    class Meta:
        model = Incident
        list_serializer_class = IncidentListSerializer
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
        return incident_records([instance], request=self.context.get("request"), with_reports=self.with_reports)[0]


class IncidentDetailSerializer(IncidentSerializer):
    with_reports = True
    reports = ReportRefSerializer(many=True, read_only=True, help_text=_("Supporting reports (sources)."))

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


class IdempotencyKeyReusedSerializer(serializers.Serializer):
    """The 422 of a POST whose ``Idempotency-Key`` was used for a different body (for the schema)."""

    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = ValidationErrorSerializer(many=True)


class ReportReceiptSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    status_url = serializers.CharField(help_text=_("The private page where the submitter follows the report."))
    created = serializers.DateTimeField()
