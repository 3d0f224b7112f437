"""The REST API lives under /api/v1/. Its endpoints arrive with their issue;
for now the root says what the API is and where the catalogue is."""

from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response


@api_view(["GET"])
def api_root(request: Request) -> Response:
    return Response(
        {
            "name": "Incident Commons API",
            "version": "v1",
            "endpoints": {},
            "documentation": request.build_absolute_uri("/docs/"),
        }
    )
