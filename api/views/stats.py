"""``/api/v1/stats/``: counts of published incidents by one dimension, optionally by
month or year, with the incident filters. ``/api/v1/stats/moderation/``: the
non-public counts regulators' keys may read (no record, no text, no contact)."""

import datetime
from collections import Counter
from typing import Any

from django.db.models import Case, CharField, Count, F, Min, QuerySet, Value, When
from django.db.models.functions import Coalesce, TruncMonth, TruncYear
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import views
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.dedup.models import DedupResult
from incidents.models import Incident, IncidentEntity, Report
from incidents.selectors import (
    VERIFICATION_CORROBORATED_REPORTS,
    incident_public_queryset,
    incident_with_verification,
)

from ..filters import IncidentApiFilter
from ..incident_rows import TAG_FIELDS
from ..permissions import IsRegulatorKey
from ..serializers import ModerationStatsSerializer, StatsSerializer
from ..terms import term_table
from .base import ApiViewMixin

TAG_DIMENSIONS = {
    "hazard": "iasr-2025",
    "failure_mode": TAG_FIELDS["failure_modes"],
    "harm_type": TAG_FIELDS["harm_types"],
    "stakeholder": TAG_FIELDS["stakeholders"],
    "industry": TAG_FIELDS["industries"],
    "principle": TAG_FIELDS["principles"],
    "ai_relation": TAG_FIELDS["ai_relation"],
}
DIMENSIONS = [*TAG_DIMENSIONS, "hazard_family", "severity", "country", "entity", "verification"]
INTERVALS = {"month": TruncMonth, "year": TruncYear}
DATE_FIELDS = {"occurred": "date_occurred", "published": "published_at"}


def _period(value: Any, interval: str | None) -> str | None:
    if interval is None or value is None:
        return None
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return f"{value:%Y}" if interval == "year" else f"{value:%Y-%m}"


@extend_schema(
    summary="Counts of published incidents by one dimension (and by month or year)",
    parameters=[
        OpenApiParameter("dimension", str, enum=DIMENSIONS, required=True, description="What to count by."),
        OpenApiParameter("interval", str, enum=list(INTERVALS), description="Also group by month or year."),
        OpenApiParameter(
            "date_field", str, enum=list(DATE_FIELDS), description="The date ``interval`` uses (default occurred)."
        ),
    ],
    responses=StatsSerializer,
)
class StatsView(ApiViewMixin, views.APIView):
    filterset_class = IncidentApiFilter

    def get(self, request: Request) -> Response:
        dimension = request.query_params.get("dimension", "")
        interval = request.query_params.get("interval") or None
        date_name = request.query_params.get("date_field") or "occurred"
        errors: dict[str, list[str]] = {}
        if dimension not in DIMENSIONS:
            errors["dimension"] = [str(_("Choose one of: %s.")) % ", ".join(DIMENSIONS)]
        if interval is not None and interval not in INTERVALS:
            errors["interval"] = [str(_("Choose month or year."))]
        if date_name not in DATE_FIELDS:
            errors["date_field"] = [str(_("Choose occurred or published."))]
        # Without the verification annotation (a subquery per row): the filter adds it when used.
        filterset = IncidentApiFilter(request.query_params, queryset=incident_public_queryset(), request=request)
        if not filterset.is_valid():
            errors.update(filterset.errors)
        if errors:
            raise ValidationError(errors)
        incidents = filterset.qs.order_by()
        groups = self._groups(incidents, dimension, interval, DATE_FIELDS[date_name])
        groups.sort(key=lambda g: (g["period"] or "", -g["count"], g["key"] or ""))
        return Response(
            {
                "dimension": dimension,
                "interval": interval,
                "date_field": date_name,
                "total": incidents.count(),
                "groups": groups,
            }
        )

    def _groups(
        self, incidents: QuerySet[Incident], dimension: str, interval: str | None, date_field: str
    ) -> list[dict[str, Any]]:
        trunc = INTERVALS[interval] if interval else None
        if dimension in TAG_DIMENSIONS or dimension == "hazard_family":
            return self._count_terms(incidents, dimension, trunc, date_field, interval)
        if dimension == "severity":
            rows: QuerySet[Any] = incidents.annotate(key=F("severity__code"), label=F("severity__label"))
            return self._count(rows, "pk", trunc, date_field, interval)
        if dimension == "entity":
            rows = IncidentEntity.objects.filter(incident__in=incidents.values("pk")).annotate(
                key=F("entity__slug"), label=F("entity__name")
            )
            return self._count(rows, "incident", trunc, f"incident__{date_field}", interval)
        if dimension == "verification":
            status = Case(
                When(confirmed_reports__gte=VERIFICATION_CORROBORATED_REPORTS, then=Value("corroborated")),
                default=Value("unverified"),
                output_field=CharField(),
            )
            rows = incident_with_verification(incidents).annotate(key=status, label=status)
            return self._count(rows, "pk", trunc, date_field, interval)
        # country: several codes in one column ("FR,US"): counted here, one pass over two columns.
        counter: Counter[tuple[str | None, str | None]] = Counter()
        for codes, when in incidents.values_list("countries", date_field).iterator(chunk_size=5000):
            period = _period(when, interval)
            found: list[str | None] = list(str(codes).split(",")) if codes else [None]
            for code in found:
                counter[(code or None, period)] += 1
        names = dict(countries)
        return [
            {
                "key": code,
                "label": str(names.get(code, _("Not known"))) if code else str(_("Not known")),
                "period": period,
                "count": n,
            }
            for (code, period), n in counter.items()
        ]

    @staticmethod
    def _count_terms(
        incidents: QuerySet[Incident], dimension: str, trunc: Any, date_field: str, interval: str | None
    ) -> list[dict[str, Any]]:
        """The incidents joined once with their taggings of one vocabulary, grouped by term id
        (codes and labels come from the term table, not a join). A tagging is unique per
        incident and term, so counting rows counts incidents; a family groups its categories,
        of which one incident may have several, so it counts distinct incidents."""
        terms = term_table()
        vocabulary = TAG_DIMENSIONS.get(dimension, "iasr-2025")
        ids = [pk for pk, term in terms.items() if term.vocabulary == vocabulary]
        rows: QuerySet[Any] = incidents.filter(taggings__term_id__in=ids)
        if dimension == "hazard_family":
            rows = rows.annotate(group=Coalesce("taggings__term__parent_id", "taggings__term_id"))
            counted = Count("pk", distinct=True)
        else:
            rows = rows.annotate(group=F("taggings__term_id"))
            counted = Count("pk")
        fields = ["group"]
        if trunc is not None:
            rows = rows.annotate(period=trunc(date_field))
            fields.append("period")
        groups = []
        for row in rows.order_by().values(*fields).annotate(count=counted):
            term = terms.get(row["group"])
            if term is not None:
                period = _period(row.get("period"), interval)
                groups.append({"key": term.code, "label": term.label, "period": period, "count": row["count"]})
        return groups

    @staticmethod
    def _count(rows: QuerySet[Any], counted: str, trunc: Any, date_field: str, interval: str | None) -> list:
        fields: list[str] = ["key", "label"]
        if trunc is not None:
            rows = rows.annotate(period=trunc(date_field))
            fields.append("period")
        result = rows.order_by().values(*fields).annotate(count=Count(counted, distinct=True))
        return [
            {
                "key": row["key"],
                "label": row["label"] if row["label"] is not None else str(_("Not set")),
                "period": _period(row.get("period"), interval),
                "count": row["count"],
            }
            for row in result
        ]


@extend_schema(
    summary="Moderation statistics (regulators' API keys only)",
    description="Counts only: reports by status and channel, the backlog, deduplication decisions. "
    "No report, text or contact detail is ever part of it.",
    responses=ModerationStatsSerializer,
)
class ModerationStatsView(ApiViewMixin, views.APIView):
    permission_classes = [IsRegulatorKey]
    cache_responses = False  # not public, and its counts move with every report

    def get(self, request: Request) -> Response:
        by_status = dict(Report.objects.order_by().values_list("status").annotate(n=Count("pk")))
        by_channel = dict(Report.objects.order_by().values_list("channel").annotate(n=Count("pk")))
        open_statuses = [Report.Status.RECEIVED, Report.Status.IN_REVIEW]
        oldest = Report.objects.filter(status__in=open_statuses).aggregate(first=Min("created"))["first"]
        incidents = dict(Incident.objects.order_by().values_list("status").annotate(n=Count("pk")))
        decisions = dict(DedupResult.objects.order_by().values_list("decision").annotate(n=Count("pk")))
        return Response(
            {
                "reports_awaiting_moderation": sum(by_status.get(s, 0) for s in open_statuses),
                "reports_by_status": {s: by_status.get(s, 0) for s in Report.Status.values},
                "reports_by_channel": {c: by_channel.get(c, 0) for c in Report.Channel.values},
                "oldest_open_report_days": round((timezone.now() - oldest).total_seconds() / 86400, 1)
                if oldest
                else None,
                "incidents_by_status": {s: incidents.get(s, 0) for s in Incident.Status.values},
                "dedup_decisions": {str(k): v for k, v in decisions.items()},
            }
        )
