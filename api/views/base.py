"""What every API view shares: the taxonomy version header, errors always in JSON."""

from typing import Any

from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from ..versions import HEADER, taxonomy_version


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
