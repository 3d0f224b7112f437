from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from taxonomy.models import Mapping, Term, Vocabulary


class StableCodeAdmin(admin.ModelAdmin):
    """Codes are stable identifiers that records and the API rely on, so they are set once and never edited."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = super().get_readonly_fields(request, obj)
        return (*readonly, "code") if obj is not None else readonly


@admin.register(Vocabulary)
class VocabularyAdmin(StableCodeAdmin):
    list_display = ["code", "name", "version", "multiple", "sort_order"]
    search_fields = ["code", "name"]


@admin.register(Term)
class TermAdmin(StableCodeAdmin):
    list_display = ["code", "label", "vocabulary", "deprecated_by", "unconfirmed"]
    list_filter = ["vocabulary", "unconfirmed"]
    list_select_related = ["vocabulary", "deprecated_by"]
    search_fields = ["code", "label", "definition"]
    autocomplete_fields = ["parent", "deprecated_by"]
    ordering = ["vocabulary__sort_order", "sort_order", "code"]


@admin.register(Mapping)
class MappingAdmin(admin.ModelAdmin):
    list_display = ["source", "target", "version"]
    list_filter = ["version", "source__vocabulary", "target__vocabulary"]
    list_select_related = ["source", "target"]
    search_fields = ["source__code", "target__code", "source__label", "target__label"]
    autocomplete_fields = ["source", "target"]
