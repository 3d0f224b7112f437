"""OpenAPI: how the API key is described in the schema (drf-spectacular extension)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_standardized_errors.openapi import AutoSchema
from drf_standardized_errors.openapi_serializers import ValidationErrorResponseSerializer


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "“Api-Key <your key>” (or the header X-Api-Key: <your key>). Make a key at "
            "/account/api-keys/. Without a key, published data can be read at a lower rate.",
        }


class ApiAutoSchema(AutoSchema):
    """drf-standardized-errors' schema with one error shape for every 400: ``attr`` and
    ``code`` are plain strings (not per-view enums), since the pagination, ordering and
    stats parameters can fail too. Every operation documents 400, 401, 404 and 429."""

    def _should_add_error_response(self, responses: dict, status_code: str) -> bool:
        if status_code in {"400", "401", "404", "429"} and status_code not in responses:
            return True
        return super()._should_add_error_response(responses, status_code)

    def _should_add_validation_error_response(self) -> bool:
        return True

    def _get_serializer_for_validation_error_response(self) -> Any:
        return ValidationErrorResponseSerializer
