"""``/api/v1/incidents/``: published incidents, filtered, cursor-paged, as JSON or CSV."""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponseBase, HttpResponsePermanentRedirect
from django.urls import reverse
from django.utils.http import http_date
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.models import Incident
from incidents.selectors import incident_follow_merges, incident_public_queryset, incident_with_verification

from ..csv_export import stream_csv
from ..filters import IncidentApiFilter
from ..incident_rows import incident_rows_queryset
from ..serializers import IncidentDetailSerializer, IncidentSerializer
from .base import ApiViewMixin, CsvListMixin

INCIDENT_ORDERINGS: dict[str, tuple[str, ...]] = {
    "-date_published": ("-published_at", "-pk"),
    "date_published": ("published_at", "pk"),
    "-modified": ("-modified", "-pk"),
    "modified": ("modified", "pk"),
    "id": ("public_id",),
    "-id": ("-public_id",),
}
ORDERING_PARAM = OpenApiParameter(
    "ordering",
    str,
    enum=list(INCIDENT_ORDERINGS),
    description="Order of the results (default ``-date_published``; use ``modified`` for incremental sync).",
)
FORMAT_PARAM = OpenApiParameter(
    "format", str, enum=["json", "csv"], description="``csv`` streams every matching row as CSV (no paging)."
)
CSV_FIELDS = [
    "id",
    "url",
    "event_type",
    "title",
    "date_occurred",
    "countries",
    "severity",
    "hazards",
    "failure_modes",
    "harm_types",
    "stakeholders",
    "industries",
    "mit_domains",
    "entities",
    "verification",
    "date_published",
    "modified",
]


def incident_api_queryset(*, with_tombstones: bool = False) -> QuerySet[Incident]:
    """Published incidents; for incremental sync also those withdrawn or merged after
    they were published, as tombstones (see ``IncidentSerializer``)."""
    queryset = incident_public_queryset()
    if with_tombstones:
        gone = Incident.objects.filter(
            status__in=[Incident.Status.WITHDRAWN, Incident.Status.MERGED], published_at__isnull=False
        )
        queryset = queryset | gone
    return incident_with_verification(queryset)


@extend_schema_view(
    list=extend_schema(
        summary="List published incidents",
        parameters=[ORDERING_PARAM, FORMAT_PARAM],
        responses={(200, "application/json"): IncidentSerializer(many=True), (200, "text/csv"): OpenApiTypes.STR},
    ),
    retrieve=extend_schema(summary="One published incident, with its reports", parameters=[FORMAT_PARAM]),
)
class IncidentViewSet(ApiViewMixin, CsvListMixin, viewsets.ReadOnlyModelViewSet):
    lookup_field = "public_id"
    lookup_url_kwarg = "public_id"
    lookup_value_regex = r"INC-\d{4}-\d{1,9}"
    filterset_class = IncidentApiFilter
    orderings = INCIDENT_ORDERINGS
    default_ordering = "-date_published"
    csv_fields = CSV_FIELDS
    csv_filename = "incidents.csv"
    csv_detail = True  # one incident as a CSV row

    def get_queryset(self) -> QuerySet[Incident]:
        # A client that syncs (updated_since, or the order of changes) must also hear of what
        # left the public set, or its copy would keep it for ever.
        params = self.request.query_params
        syncing = bool(params.get("updated_since")) or params.get("ordering") in ("modified", "-modified")
        tombstones = self.action == "list" and syncing
        return incident_rows_queryset(incident_api_queryset(with_tombstones=tombstones))

    def get_serializer_class(self) -> Any:
        return IncidentSerializer if self.action == "list" else IncidentDetailSerializer

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        public_id = str(kwargs.get("public_id", "")).upper()
        instance = self.get_queryset().filter(public_id=public_id).first()
        if instance is None:
            merged = Incident.objects.filter(public_id=public_id, status=Incident.Status.MERGED).first()
            target = incident_follow_merges(merged) if merged is not None else None
            if target is not None and target.status == Incident.Status.PUBLISHED:
                # A merged incident's id keeps working: it points to the incident it became part of.
                url = reverse("api:incident-detail", kwargs={"public_id": target.public_id})
                return HttpResponsePermanentRedirect(request.build_absolute_uri(url))
            raise NotFound(_("No published incident has this id."))
        if request.accepted_renderer.format == "csv":
            queryset = self.get_queryset().filter(pk=instance.pk)
            return stream_csv(queryset, self.csv_rows, self.csv_fields, self.csv_filename)
        response = Response(self.get_serializer(instance).data)
        response["Last-Modified"] = http_date(instance.modified.timestamp())
        return response
