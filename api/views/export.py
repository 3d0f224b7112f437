"""``/api/v1/export/incidents.jsonl``: every published incident, one JSON record a line,
streamed in constant memory (the bulk download; the lists are for queries)."""

import json
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import views
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.utils.encoders import JSONEncoder

from ..csv_export import chunks
from ..incident_rows import incident_rows_queryset
from ..serializers import IncidentDetailSerializer
from ..versions import HEADER, taxonomy_version
from .base import ApiViewMixin
from .incidents import incident_api_queryset


class JSONLinesRenderer(BaseRenderer):
    media_type = "application/x-ndjson"
    format = "jsonl"

    def render(self, data: object, accepted_media_type: str | None = None, renderer_context: object = None) -> bytes:
        return b""


@extend_schema(
    summary="Every published incident with its reports, as JSON Lines",
    parameters=[OpenApiParameter("format", str, enum=["jsonl"], description="Optional; the answer is JSON Lines.")],
    responses={(200, "application/x-ndjson"): OpenApiTypes.STR},
)
class IncidentExportView(ApiViewMixin, views.APIView):
    cache_responses = False  # streamed
    # JSON first: errors (and failed content negotiation) answer in the documented JSON shape.
    renderer_classes = [JSONRenderer, JSONLinesRenderer]

    def get(self, request: Request) -> StreamingHttpResponse:
        queryset = incident_rows_queryset(incident_api_queryset()).order_by("published_at", "pk")
        context = {"request": request}

        def lines() -> Iterator[str]:
            for chunk in chunks(queryset):
                for record in IncidentDetailSerializer(chunk, many=True, context=context).data:
                    yield json.dumps(record, cls=JSONEncoder, ensure_ascii=False) + "\n"

        response = StreamingHttpResponse(lines(), content_type="application/x-ndjson; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d")
        response["Content-Disposition"] = f'attachment; filename="incident-commons-{stamp}.jsonl"'
        response[HEADER] = taxonomy_version()
        return response
