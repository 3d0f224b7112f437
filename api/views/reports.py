"""``/api/v1/reports/``: read the public fields of published incidents' reports;
POST submits a new report through the same service as the web form."""

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpResponseBase
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from incidents.models import Report
from incidents.selectors import report_public_incident_ids, report_public_queryset

from .. import submission
from ..authentication import api_key_of
from ..csv_export import CSVRenderer, stream_csv
from ..filters import ReportApiFilter
from ..pagination import ApiCursorPagination
from ..permissions import CanSubmit
from ..serializers import ReportReceiptSerializer, ReportSerializer, ReportSubmitSerializer
from ..throttling import AnonThrottle, KeyThrottle, SubmitThrottle
from .base import ApiViewMixin

REPORT_ORDERINGS: dict[str, tuple[str, ...]] = {
    "-id": ("-pk",),
    "id": ("pk",),
    "-modified": ("-modified", "-pk"),
    "modified": ("modified", "pk"),
}
CSV_FIELDS = ["id", "title", "url", "publisher", "authors", "language", "date_published", "channel", "incidents"]
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Any unique string (a UUID): a retried POST with the same key and body returns the first "
    "answer and creates nothing new. A different body with a used key is refused (422).",
)


@extend_schema_view(
    list=extend_schema(
        summary="List the public fields of reports of published incidents",
        parameters=[
            OpenApiParameter("ordering", str, enum=list(REPORT_ORDERINGS), description="Order (default ``-id``)."),
            OpenApiParameter(
                "format", str, enum=["json", "csv"], description="``csv`` streams every matching row (no paging)."
            ),
        ],
        responses={(200, "application/json"): ReportSerializer(many=True), (200, "text/csv"): OpenApiTypes.STR},
    ),
    retrieve=extend_schema(summary="The public fields of one report"),
    create=extend_schema(
        summary="Submit a report (API key with the “read and submit” scope)",
        request=ReportSubmitSerializer,
        responses={201: ReportReceiptSerializer, 200: ReportReceiptSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    ),
)
class ReportViewSet(ApiViewMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    filterset_class = ReportApiFilter
    pagination_class = ApiCursorPagination
    renderer_classes = [JSONRenderer, CSVRenderer]
    orderings = REPORT_ORDERINGS
    default_ordering = "-id"

    def get_queryset(self) -> QuerySet[Report]:
        return report_public_queryset()

    def get_serializer_class(self) -> Any:
        return ReportSubmitSerializer if self.action == "create" else ReportSerializer

    def get_renderers(self) -> list[Any]:
        # CSV is a list format; one report, or a submission's receipt, is JSON.
        if self.action == "list":
            return super().get_renderers()
        return [JSONRenderer()]

    def get_permissions(self) -> list[Any]:
        if self.action == "create":
            return [CanSubmit()]
        return super().get_permissions()

    def get_throttles(self) -> list[BaseThrottle]:
        if self.action == "create":
            return [AnonThrottle(), KeyThrottle(), SubmitThrottle()]
        return super().get_throttles()

    def _with_incidents(self, reports: Sequence[Report]) -> dict[str, Any]:
        return {**self.get_serializer_context(), "incident_ids": report_public_incident_ids([r.pk for r in reports])}

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        queryset = self.filter_queryset(self.get_queryset())
        if request.accepted_renderer.format == "csv":
            ordered = queryset.order_by(*ApiCursorPagination().get_ordering(request, queryset, self))
            return stream_csv(ordered, self._csv_rows, CSV_FIELDS, "reports.csv")
        page = self.paginate_queryset(queryset) or []
        serializer = ReportSerializer(page, many=True, context=self._with_incidents(page))
        return self.get_paginated_response(serializer.data)

    def _csv_rows(self, reports: Sequence[Report]) -> Any:
        return ReportSerializer(reports, many=True, context=self._with_incidents(reports)).data

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        report = self.get_object()
        return Response(ReportSerializer(report, context=self._with_incidents([report])).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = ReportSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = api_key_of(request)
        assert key is not None  # CanSubmit
        idempotency_key = request.headers.get("Idempotency-Key", "").strip()
        if len(idempotency_key) > 200:
            return _error(_("Idempotency-Key: at most 200 characters."), "Idempotency-Key")
        fingerprint = submission.fingerprint(body.validated_data)
        if idempotency_key:
            earlier = submission.replay(key, idempotency_key, fingerprint, request)
            if earlier is not None:
                return earlier
        try:
            with transaction.atomic():
                report = submission.submit(body.validated_data)
                if idempotency_key:
                    submission.remember(key, idempotency_key, fingerprint, report)
        except IntegrityError:
            # The same key arrived twice at once: the other request made the report.
            earlier = submission.replay(key, idempotency_key, fingerprint, request) if idempotency_key else None
            if earlier is None:
                raise
            return earlier
        return Response(submission.receipt(report, request), status=status.HTTP_201_CREATED)


def _error(message: Any, field: str) -> Response:
    return Response(
        {"type": "validation_error", "errors": [{"code": "invalid", "detail": str(message), "attr": field}]},
        status=status.HTTP_400_BAD_REQUEST,
    )
