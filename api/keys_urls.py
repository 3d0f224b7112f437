"""Pages where people manage their API keys (mounted at /account/api-keys/)."""

from django.urls import path

from .views import keys

app_name = "api_keys"
urlpatterns = [
    path("", keys.key_list, name="list"),
    path("<int:pk>/revoke/", keys.key_revoke, name="revoke"),
]
