"""``/api/v1/``: what the API is and where everything is."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse


@extend_schema(summary="Where everything is", exclude=True)
@api_view(["GET"])
def api_root(request: Request) -> Response:
    names = {
        "incidents": "api:incident-list",
        "reports": "api:report-list",
        "entities": "api:entity-list",
        "taxonomy": "api:vocabulary-list",
        "crosswalk": "api:crosswalk",
        "stats": "api:stats",
        "moderation_stats": "api:stats-moderation",
        "export": "api:export-incidents",
        "schema": "api:schema",
        "docs": "api:docs",
    }
    return Response(
        {
            "name": "Incident Commons API",
            "version": "v1",
            "endpoints": {key: reverse(name, request=request) for key, name in names.items()},
        }
    )


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def not_found(request: Request, path: str = "") -> Response:
    """Any other address under /api/v1/: a 404 in the API's JSON shape, not an HTML page."""
    raise NotFound(_("There is nothing at this address. The endpoints are listed at /api/v1/."))
