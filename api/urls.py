from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from .views import entities, export, incidents, reports, root, stats, taxonomy

app_name = "api"

router = SimpleRouter()
router.register("incidents", incidents.IncidentViewSet, basename="incident")
router.register("reports", reports.ReportViewSet, basename="report")
router.register("entities", entities.EntityViewSet, basename="entity")
router.register("taxonomy", taxonomy.VocabularyViewSet, basename="vocabulary")

urlpatterns = [
    path("", root.api_root, name="root"),
    path("crosswalk/", taxonomy.CrosswalkView.as_view(), name="crosswalk"),
    path("stats/", stats.StatsView.as_view(), name="stats"),
    path("stats/moderation/", stats.ModerationStatsView.as_view(), name="stats-moderation"),
    path("export/incidents.jsonl", export.IncidentExportView.as_view(), name="export-incidents"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    *router.urls,
    re_path(r"^(?P<path>.*)$", root.not_found, name="not-found"),
]
