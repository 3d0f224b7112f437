"""``/api/v1/reports/``: read the public fields of published incidents' reports;
POST submits a new report through the same service as the web form."""

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from incidents.models import Report
from incidents.selectors import report_public_incident_ids, report_public_queryset

from .. import submission
from ..authentication import api_key_of
from ..filters import ReportApiFilter
from ..permissions import CanSubmit
from ..serializers import (
    IdempotencyKeyReusedSerializer,
    ReportReceiptSerializer,
    ReportSerializer,
    ReportSubmitSerializer,
)
from ..throttling import AnonThrottle, KeyThrottle, SubmitThrottle
from .base import ApiViewMixin, CsvListMixin

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
        responses={
            201: ReportReceiptSerializer,
            200: OpenApiResponse(ReportReceiptSerializer, description="A retried POST: the first answer again."),
            422: OpenApiResponse(
                IdempotencyKeyReusedSerializer, description="The Idempotency-Key was used for a different body."
            ),
        },
        parameters=[IDEMPOTENCY_HEADER],
    ),
)
class ReportViewSet(ApiViewMixin, CsvListMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    filterset_class = ReportApiFilter
    orderings = REPORT_ORDERINGS
    default_ordering = "-id"
    csv_fields = CSV_FIELDS
    csv_filename = "reports.csv"

    def get_queryset(self) -> QuerySet[Report]:
        return report_public_queryset()

    def get_serializer_class(self) -> Any:
        return ReportSubmitSerializer if self.action == "create" else ReportSerializer

    def get_permissions(self) -> list[Any]:
        if self.action == "create":
            return [CanSubmit()]
        return super().get_permissions()

    def get_throttles(self) -> list[BaseThrottle]:
        if self.action == "create":
            return [AnonThrottle(), KeyThrottle(), SubmitThrottle()]
        return super().get_throttles()

    _incident_ids: dict[int, list[str]] = {}

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "incident_ids": self._incident_ids}

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        # The public incidents of the reports being shown: one query per page or CSV chunk.
        if args and self.action != "create":
            reports = args[0] if kwargs.get("many") else [args[0]]
            self._incident_ids = report_public_incident_ids([r.pk for r in reports])
        return super().get_serializer(*args, **kwargs)

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
