from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents and reports"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
