"""Reads shared by the pages (and later the API and feeds).

Everything public goes through ``incident_public_queryset``: one visibility
rule (published only; public fields only) for every page, endpoint and export.
The list selectors own their prefetching, so a page costs the same few queries
for 10 rows or 100.
"""

import datetime
from typing import Any

from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from taxonomy.models import Term, Vocabulary

from .models import Entity, Incident, IncidentEntity, Report, ReportEvent, ReportIncidentLink, Tagging

# An incident with at least this many confirmed reports is "corroborated"; "confirmed"
# is kept for incidents reproduced by an audit (docs/api.md).
VERIFICATION_CORROBORATED_REPORTS = 2


def incident_public_queryset() -> QuerySet[Incident]:
    return Incident.objects.filter(status=Incident.Status.PUBLISHED)


def incident_with_verification(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    """Annotate ``confirmed_reports``: the reports a moderator confirmed (automatic links
    awaiting confirmation are not public and do not count)."""
    counts = (
        ReportIncidentLink.objects.filter(incident=OuterRef("pk"), confirmed=True)
        .order_by()
        .values("incident")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.annotate(confirmed_reports=Coalesce(Subquery(counts, output_field=IntegerField()), 0))


def verification_status(confirmed_reports: int) -> str:
    return "corroborated" if confirmed_reports >= VERIFICATION_CORROBORATED_REPORTS else "unverified"


def report_public_queryset() -> QuerySet[Report]:
    """Reports that support a published incident through a confirmed link; only their
    public fields may be shown (never the text, contact e-mail, evidence or submitter)."""
    public_links = ReportIncidentLink.objects.filter(
        report=OuterRef("pk"), confirmed=True, incident__status=Incident.Status.PUBLISHED
    )
    return Report.objects.filter(Exists(public_links))


def report_public_incident_ids(report_ids: list[int]) -> dict[int, list[str]]:
    """The public ids of the published incidents each report supports (one query)."""
    rows = (
        ReportIncidentLink.objects.filter(
            report_id__in=report_ids, confirmed=True, incident__status=Incident.Status.PUBLISHED
        )
        .order_by("incident__public_id")
        .values_list("report_id", "incident__public_id")
    )
    found: dict[int, list[str]] = {}
    for report_id, public_id in rows:
        found.setdefault(report_id, []).append(public_id)
    return found


def entity_public_queryset() -> QuerySet[Entity]:
    """Entities with the number of published incidents they are involved in."""
    published = IncidentEntity.objects.filter(entity=OuterRef("pk"), incident__status=Incident.Status.PUBLISHED)
    counts = published.order_by().values("entity").annotate(n=Count("incident", distinct=True)).values("n")
    return Entity.objects.annotate(
        incident_count=Coalesce(Subquery(counts, output_field=IntegerField()), 0)
    ).prefetch_related("aliases")


def _tag_prefetch() -> Prefetch:
    return Prefetch(
        "taggings",
        queryset=Tagging.objects.select_related("term__vocabulary", "term__parent").order_by(
            "term__vocabulary__sort_order", "term__sort_order"
        ),
    )


def incident_list_prefetch(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    return queryset.select_related("severity").prefetch_related(
        _tag_prefetch(),
        Prefetch("entity_links", queryset=IncidentEntity.objects.select_related("entity")),
    )


def incident_get_public(public_id: str) -> Incident | None:
    """A published incident with everything its page shows, or None.
    A merged incident is returned as is, so the view can redirect."""
    incident = (
        Incident.objects.filter(public_id=public_id, status__in=[Incident.Status.PUBLISHED, Incident.Status.MERGED])
        .select_related("severity", "merged_into")
        .prefetch_related(
            _tag_prefetch(),
            Prefetch("entity_links", queryset=IncidentEntity.objects.select_related("entity")),
            Prefetch(
                "links",
                queryset=ReportIncidentLink.objects.filter(confirmed=True)
                .select_related("report")
                .order_by("report__date_published", "report__pk"),
            ),
            "revisions__actor",
        )
        .first()
    )
    return incident


# How far a chain of merges (A into B, later B into C) is followed.
MERGE_CHAIN_LIMIT = 10


def incident_follow_merges(incident: Incident) -> Incident:
    """The incident that ``incident`` ended up merged into (itself if it is not merged).
    Each step is read from the database, so a stale ``merged_into`` cannot mislead."""
    for _step in range(MERGE_CHAIN_LIMIT):
        if incident.status != Incident.Status.MERGED or incident.merged_into_id is None:
            break
        following = Incident.objects.filter(pk=incident.merged_into_id).first()
        if following is None:
            break
        incident = following
    return incident


def incident_tags_by_vocabulary(incident: Incident) -> dict[str, list[Term]]:
    grouped: dict[str, list[Term]] = {}
    for tagging in incident.taggings.all():
        grouped.setdefault(tagging.term.vocabulary.code, []).append(tagging.term)
    return grouped


def taxonomy_overview() -> list[dict[str, Any]]:
    """The iasr-2025 families and categories with counts of published incidents.
    A family counts its children's incidents (each incident once)."""
    terms = list(Term.objects.filter(vocabulary__code="iasr-2025").select_related("parent").order_by("sort_order"))
    pairs = set(
        Tagging.objects.filter(incident__status=Incident.Status.PUBLISHED, term__vocabulary__code="iasr-2025")
        .values_list("term_id", "incident_id")
        .distinct()
    )
    by_term: dict[int, set[int]] = {}
    for term_id, incident_id in pairs:
        by_term.setdefault(term_id, set()).add(incident_id)
    families = []
    for family in (t for t in terms if t.parent_id is None):
        children = [t for t in terms if t.parent_id == family.pk]
        family_ids = set(by_term.get(family.pk, set()))
        rows = []
        for child in children:
            ids = by_term.get(child.pk, set())
            family_ids |= ids
            rows.append({"term": child, "count": len(ids)})
        families.append({"term": family, "count": len(family_ids), "categories": rows})
    return families


def vocabularies_for_display() -> QuerySet[Vocabulary]:
    return Vocabulary.objects.exclude(code="iasr-2025").prefetch_related("terms")


def report_queue(*, status: str = "", channel: str = "", age: str = "", mine_user: Any = None) -> QuerySet[Report]:
    """The moderation queue, oldest first, with what each row shows."""
    qs = Report.objects.select_related("claimed_by", "dedup__incident").annotate(
        evidence_count=Count("evidence", distinct=True),
        has_incident=Exists(ReportIncidentLink.objects.filter(report=OuterRef("pk"))),
    )
    if status == "open" or not status:
        qs = qs.filter(status__in=[Report.Status.RECEIVED, Report.Status.IN_REVIEW])
    elif status != "all":
        qs = qs.filter(status=status)
    if channel:
        qs = qs.filter(channel=channel)
    now = timezone.now()
    ages = {"1d": (None, 1), "7d": (1, 7), "30d": (7, 30), "older": (30, None)}
    if age in ages:
        newer, older = ages[age]
        if newer is not None:
            qs = qs.filter(created__lt=now - datetime.timedelta(days=newer))
        if older is not None:
            qs = qs.filter(created__gte=now - datetime.timedelta(days=older))
    if mine_user is not None:
        qs = qs.filter(claimed_by=mine_user)
    return qs.order_by("created", "pk")


def report_public_events(report: Report) -> QuerySet[ReportEvent]:
    return report.events.filter(public=True)


def report_public_incidents(report: Report) -> QuerySet[Incident]:
    return incident_public_queryset().filter(links__report=report)


def reports_of_user(user: Any) -> QuerySet[Report]:
    return Report.objects.filter(submitter=user).order_by("-created")


def incident_search_for_attach(q: str) -> QuerySet[Incident]:
    """Incidents a moderator may attach a report to: by id or title words."""
    qs = Incident.objects.exclude(status=Incident.Status.MERGED)
    q = q.strip()
    if not q:
        return qs.none()
    condition = Q(public_id__iexact=q)
    words = Q()
    for word in q.split()[:8]:
        words &= Q(title__icontains=word)
    return qs.filter(condition | words).order_by("-modified")[:10]


def report_duplicate_candidates(report: Report) -> list[dict[str, Any]]:
    """The engine's candidates for a report, with their incidents, in two queries.
    Pairs a moderator called "not a duplicate" are left out."""
    from .models import DedupResult, PairVerdict

    result = DedupResult.objects.filter(report=report).first()
    if result is None or not result.candidates:
        return []
    different = set(
        PairVerdict.objects.filter(report=report, verdict=PairVerdict.Verdict.DIFFERENT).values_list(
            "incident_id", flat=True
        )
    )
    ids = [c["incident"] for c in result.candidates if c["incident"] not in different]
    incidents = Incident.objects.in_bulk(ids)
    linked = set(report.links.values_list("incident_id", flat=True))
    return [
        {
            "incident": incidents[c["incident"]],
            "score": c["score"],
            "reasons": c.get("reasons", {}),
            "linked": c["incident"] in linked,
        }
        for c in result.candidates
        if c["incident"] in incidents
    ]
