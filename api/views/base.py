"""What every API view shares: the taxonomy version header, errors always in JSON."""

from collections.abc import Sequence
from typing import Any

from django.http import HttpResponseBase
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from ..csv_export import stream_csv
from ..pagination import ApiCursorPagination
from ..versions import HEADER, taxonomy_version


class CsvListMixin:
    """``?format=csv`` on a list: every matching row, in the list's order, streamed.
    A view sets ``csv_fields`` and ``csv_filename`` and may override ``csv_rows``."""

    csv_fields: list[str] = []
    csv_filename = "export.csv"

    def csv_rows(self, chunk: Sequence[Any]) -> Any:
        return self.get_serializer(chunk, many=True).data  # type: ignore[attr-defined]

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.accepted_renderer.format != "csv":
            return super().list(request, *args, **kwargs)  # type: ignore[misc]
        queryset = self.filter_queryset(self.get_queryset())  # type: ignore[attr-defined]
        ordered = queryset.order_by(*ApiCursorPagination().get_ordering(request, queryset, self))
        return stream_csv(ordered, self.csv_rows, self.csv_fields, self.csv_filename)


class ApiViewMixin:
    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # An error asked for as CSV (or JSON Lines) still comes in the one documented JSON shape.
        failed = isinstance(response, Response) and response.status_code >= 400
        if failed and not isinstance(getattr(request, "accepted_renderer", None), JSONRenderer):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        response[HEADER] = taxonomy_version()
        return response
