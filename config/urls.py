from django.contrib import admin
from django.urls import include, path

from config.health import healthz
from incidents.urls import catalogue_patterns, moderation_patterns, reporting_patterns
from incidents.views.catalogue import home

urlpatterns = [
    path("", home, name="home"),
    path("report/", include(reporting_patterns)),
    path("incidents/", include(catalogue_patterns)),
    path("moderation/", include(moderation_patterns)),
    path("taxonomy/", include("taxonomy.urls")),
    path("accounts/", include("allauth.urls")),
    path("account/api-keys/", include("api.keys_urls")),
    path("api/v1/", include("api.urls")),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
