"""What every API view shares: the taxonomy version header, errors always in JSON."""

from collections.abc import Sequence
from typing import Any

from django.http import HttpResponseBase
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from .. import cache as answer_cache
from ..csv_export import CSVRenderer, stream_csv
from ..pagination import ApiCursorPagination
from ..versions import HEADER, taxonomy_version


class CsvListMixin:
    """A cursor-paged list that also answers ``?format=csv``: every matching row, in the
    list's order, streamed. A view sets ``csv_fields`` and ``csv_filename`` and may
    override ``csv_rows``; its other actions answer JSON only, unless ``csv_detail``."""

    pagination_class = ApiCursorPagination
    renderer_classes = [JSONRenderer, CSVRenderer]
    csv_fields: list[str] = []
    csv_filename = "export.csv"
    csv_detail = False

    def get_renderers(self) -> list[Any]:
        if self.action == "list" or self.csv_detail:  # type: ignore[attr-defined]
            return super().get_renderers()  # type: ignore[misc]
        return [JSONRenderer()]

    def csv_rows(self, chunk: Sequence[Any]) -> Any:
        return self.get_serializer(chunk, many=True).data  # type: ignore[attr-defined]

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.accepted_renderer.format != "csv":
            return super().list(request, *args, **kwargs)  # type: ignore[misc]
        queryset = self.filter_queryset(self.get_queryset())  # type: ignore[attr-defined]
        ordered = queryset.order_by(*ApiCursorPagination().get_ordering(request, queryset, self))
        return stream_csv(ordered, self.csv_rows, self.csv_fields, self.csv_filename)


class ApiViewMixin:
    # Public answers are the same for every caller: cached by the catalogue's state (api/cache.py).
    cache_responses = True

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]  # authentication, permissions, throttles
        if not (self.cache_responses and request.method == "GET" and answer_cache.enabled()):
            return
        key = answer_cache.key_for(request)
        cached = answer_cache.lookup(key)
        if cached is not None:
            # The checks above have passed: answer from the cache instead of running the handler.
            setattr(self, "get", lambda *args, **kwargs: cached)  # noqa: B010 (the bound handler, for this request)
        else:
            request._answer_cache_key = key  # type: ignore[attr-defined]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # An error asked for as CSV (or JSON Lines) still comes in the one documented JSON shape.
        failed = isinstance(response, Response) and response.status_code >= 400
        if failed and not isinstance(getattr(request, "accepted_renderer", None), JSONRenderer):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        response[HEADER] = taxonomy_version()
        key = getattr(request, "_answer_cache_key", None)
        if key is not None:
            answer_cache.store(key, response)
        return response
