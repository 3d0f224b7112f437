"""``/api/v1/entities/``: organisations and AI systems, with their published incidents."""

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets

from incidents.models import Entity, Incident, IncidentEntity
from incidents.selectors import entity_public_queryset

from ..filters import EntityApiFilter
from ..serializers import EntityDetailSerializer, EntitySerializer
from .base import ApiViewMixin, CsvListMixin


@extend_schema_view(
    list=extend_schema(
        summary="Organisations and AI systems",
        parameters=[
            OpenApiParameter("ordering", str, enum=["name", "-incidents"], description="Order (default ``name``)."),
            OpenApiParameter("format", str, enum=["json", "csv"], description="``csv`` streams every matching row."),
        ],
        responses={(200, "application/json"): EntitySerializer(many=True), (200, "text/csv"): OpenApiTypes.STR},
    ),
    retrieve=extend_schema(summary="One organisation or AI system, with its published incidents"),
)
class EntityViewSet(ApiViewMixin, CsvListMixin, viewsets.ReadOnlyModelViewSet):
    lookup_field = "slug"
    filterset_class = EntityApiFilter
    orderings = {"name": ("name", "pk"), "-incidents": ("-incident_count", "pk")}
    default_ordering = "name"
    csv_fields = ["slug", "name", "kind", "aliases", "incident_count"]
    csv_filename = "entities.csv"

    def get_queryset(self) -> QuerySet[Entity]:
        # ``incident_count`` is annotated by the selector.
        queryset = entity_public_queryset().filter(**{"incident_count__gt": 0})
        if self.action == "retrieve":
            links = IncidentEntity.objects.filter(incident__status=Incident.Status.PUBLISHED).select_related("incident")
            queryset = queryset.prefetch_related(
                Prefetch(
                    "incident_links",
                    queryset=links.order_by("-incident__published_at"),
                    to_attr="public_incident_links",
                )
            )
        return queryset

    def get_serializer_class(self) -> Any:
        return EntityDetailSerializer if self.action == "retrieve" else EntitySerializer
