"""OpenAPI: how the API key is described in the schema (drf-spectacular extension)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
