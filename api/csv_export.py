"""CSV for the list endpoints (``?format=csv``), streamed row by row in constant memory."""

import csv
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer

CHUNK = 500


class CSVRenderer(BaseRenderer):
    """Declares ``text/csv`` so that ``?format=csv`` is accepted; the list views stream the body themselves."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return b""


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(_cell(v.get("code", v.get("slug", "")) if isinstance(v, dict) else v) for v in value)
    if isinstance(value, dict):
        return str(value.get("status", value.get("code", "")))
    text = str(value)
    # Cells starting with these run as formulas in spreadsheets (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def rows(header: list[str], records: Iterable[dict[str, Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for record in records:
        yield writer.writerow([_cell(record.get(name)) for name in header])


def chunks(queryset: QuerySet[Any]) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for obj in queryset.iterator(chunk_size=CHUNK):
        chunk.append(obj)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def stream_csv(
    queryset: QuerySet[Any],
    serialize_chunk: Callable[[list[Any]], Iterable[dict[str, Any]]],
    header: list[str],
    filename: str,
) -> StreamingHttpResponse:
    """``serialize_chunk`` turns up to CHUNK objects into records, so that what it looks up
    (prefetches, related ids) costs a few queries per chunk, not per row."""
    records = (record for chunk in chunks(queryset) for record in serialize_chunk(chunk))
    response = StreamingHttpResponse(rows(header, records), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
