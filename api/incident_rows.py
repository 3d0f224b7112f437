"""Incidents as API records, built in bulk: the hot path of every list, export and
detail. A page of 50 reads the incidents, then their taggings, entity links (and
for a detail, reports) as plain rows, one query each, and takes the terms from a
per-process table of the taxonomy. Building model instances for each tagging,
term and mapping (Django's prefetching) cost most of a page's time.

The shape is declared by ``api.serializers.IncidentSerializer`` (the schema);
``tests/api/test_read.py`` checks the records against it.
"""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, IncidentEntity, ReportIncidentLink, Tagging
from incidents.selectors import verification_status

from .terms import TermInfo, term_table

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
_FIELD_OF_VOCABULARY = {vocabulary: name for name, vocabulary in TAG_FIELDS.items()}
TOMBSTONE_KEEPS = {"id", "url", "status", "withdrawn", "duplicate_of", "date_published", "modified"}


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "tzinfo"):
        value = timezone.localtime(value, timezone.get_fixed_timezone(0)) if timezone.is_aware(value) else value
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return value.isoformat()


def _empty(name: str, value: Any) -> Any:
    if isinstance(value, list):
        return []
    if isinstance(value, dict):
        return {"status": "unverified", "reports": 0, "reproductions": 0}
    return None if value is None else type(value)()


def incident_records(incidents: Sequence[Incident], *, request: Any = None, with_reports: bool = False) -> list:
    """The API records of ``incidents`` (rows of ``incident_api_queryset``), in their order."""
    if not incidents:
        return []
    terms = term_table()
    ids = [i.pk for i in incidents]
    tags: dict[int, list[TermInfo]] = defaultdict(list)
    for incident_id, term_id in Tagging.objects.filter(incident_id__in=ids).values_list("incident_id", "term_id"):
        if term_id in terms:
            tags[incident_id].append(terms[term_id])
    entities: dict[int, list[dict[str, str]]] = defaultdict(list)
    entity_rows = (
        IncidentEntity.objects.filter(incident_id__in=ids)
        .order_by("role", "entity__name")
        .values_list("incident_id", "entity__slug", "entity__name", "entity__kind", "role")
    )
    for incident_id, slug, name, kind, role in entity_rows:
        entities[incident_id].append({"slug": slug, "name": name, "kind": kind, "role": role})
    reports: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if with_reports:
        report_rows = (
            ReportIncidentLink.objects.filter(incident_id__in=ids, confirmed=True)
            .order_by("report__date_published", "report_id")
            .values_list(
                "incident_id",
                "report_id",
                "report__title",
                "report__source_url",
                "report__publisher",
                "report__date_published",
                "report__language",
            )
        )
        for incident_id, pk, title, url, publisher, published, language in report_rows:
            reports[incident_id].append(
                {
                    "id": pk,
                    "title": title,
                    "url": url,
                    "publisher": publisher,
                    "date_published": _iso(published),
                    "language": language,
                }
            )
    merged_into = _merged_into_ids([i for i in incidents if i.status == Incident.Status.MERGED])
    records = []
    for incident in incidents:
        record = _record(incident, sorted(tags[incident.pk], key=lambda t: t.order), terms, request)
        record["entities"] = entities[incident.pk]
        record["duplicate_of"] = merged_into.get(incident.pk)
        if with_reports:
            record["reports"] = reports[incident.pk]
        if incident.status != Incident.Status.PUBLISHED:
            # A tombstone: which incident left, when and where to; nothing of its content.
            record = {k: (v if k in TOMBSTONE_KEEPS else _empty(k, v)) for k, v in record.items()}
        records.append(record)
    return records


def _merged_into_ids(merged: list[Incident]) -> dict[int, str]:
    if not merged:
        return {}
    targets = dict(
        Incident.objects.filter(pk__in=[i.merged_into_id for i in merged if i.merged_into_id]).values_list(
            "pk", "public_id"
        )
    )
    return {i.pk: targets[i.merged_into_id] for i in merged if i.merged_into_id in targets}


def _record(incident: Incident, tags: list[TermInfo], terms: dict[int, TermInfo], request: Any) -> dict[str, Any]:
    severity = terms.get(incident.severity_id) if incident.severity_id else None
    by_field: dict[str, list[dict[str, str]]] = {name: [] for name in TAG_FIELDS}
    autonomy = None
    mit: set[str] = set()
    for term in tags:
        name = _FIELD_OF_VOCABULARY.get(term.vocabulary)
        if name is not None:
            by_field[name].append({"code": term.code, "label": term.label})
        elif term.vocabulary == "oecd-autonomy":
            autonomy = term.code
        if term.vocabulary == "iasr-2025":
            mit.update(term.mit)
    path = reverse("incidents:detail", args=[incident.public_id])
    reports = getattr(incident, "confirmed_reports", 0)
    severity_code = severity.code if severity else None
    return {
        "id": incident.public_id,
        "url": request.build_absolute_uri(path) if request is not None else path,
        "event_type": ("hazard" if severity_code in {"hazard", "serious-hazard"} else "incident")
        if severity_code
        else "",
        "title": incident.title,
        "description": incident.description,
        "date_occurred": _iso(incident.date_occurred),
        "countries": [c.code for c in incident.countries],
        "severity": severity_code,
        "autonomy_level": autonomy,
        **by_field,
        "mit_domains": sorted(mit),
        "entities": [],
        "verification": {"status": verification_status(reports), "reports": reports, "reproductions": 0},
        "date_published": _iso(incident.published_at),
        "modified": _iso(incident.modified),
        "status": incident.status,
        "withdrawn": _iso(incident.modified) if incident.status == Incident.Status.WITHDRAWN else None,
        "duplicate_of": None,
    }


def incident_rows_queryset(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    """Only the columns the records need (not the rendered HTML or the search vector)."""
    return queryset.only(
        "pk",
        "public_id",
        "title",
        "description",
        "date_occurred",
        "countries",
        "severity_id",
        "status",
        "merged_into_id",
        "published_at",
        "modified",
    )
