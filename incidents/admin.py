"""Staff use the Django admin for what the moderation pages do not cover.
Reports created here enter through the same service as every other channel."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from . import services
from .models import Entity, EntityAlias, Evidence, Incident, IncidentEntity, Report, ReportEvent, Revision, Tagging


class AliasInline(admin.TabularInline):
    model = EntityAlias
    extra = 1
    readonly_fields = ["key"]


@admin.register(Entity)
class EntityAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "slug", "modified"]
    list_filter = ["kind"]
    search_fields = ["name", "aliases__alias"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [AliasInline]


class IncidentEntityInline(admin.TabularInline):
    model = IncidentEntity
    extra = 0
    autocomplete_fields = ["entity"]


class IncidentTaggingInline(admin.TabularInline):
    model = Tagging
    fk_name = "incident"
    extra = 0
    fields = ["term", "source", "tagged_by", "created"]
    readonly_fields = ["tagged_by", "created"]


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["public_id", "title", "status", "date_occurred", "modified"]
    list_filter = ["status", "severity"]
    search_fields = ["public_id", "title"]
    # Status changes go through the moderation pages, where they are checked and recorded.
    readonly_fields = ["public_id", "status", "created", "modified", "published_at", "description_html", "merged_into"]
    inlines = [IncidentEntityInline, IncidentTaggingInline]

    def save_model(self, request: HttpRequest, obj: Incident, form: Any, change: bool) -> None:
        if change:
            original = Incident.objects.get(pk=obj.pk)
            values = {name: getattr(obj, name) for name in services.EDITABLE_FIELDS if name in form.changed_data}
            for name in values:
                setattr(obj, name, getattr(original, name))
            services.incident_update(incident=obj, actor=request.user, **values)
            return
        created = services.incident_create(
            title=obj.title,
            description=obj.description,
            date_occurred=obj.date_occurred,
            countries=[str(c) for c in obj.countries],
            actor=request.user,
        )
        obj.pk = created.pk
        obj.public_id = created.public_id

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if any(formset.has_changed() for formset in formsets):
            # Tags and entities edited inline are public changes: sync clients must see them.
            Incident.objects.filter(pk=form.instance.pk).update(modified=timezone.now())


class EvidenceInline(admin.TabularInline):
    model = Evidence
    extra = 0
    fields = ["original_name", "content_type", "size", "sha256", "created"]
    readonly_fields = ["original_name", "content_type", "size", "sha256", "created"]
    can_delete = False


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["title", "channel", "status", "created"]
    list_filter = ["channel", "status"]
    search_fields = ["title", "source_url", "external_id"]
    readonly_fields = ["status_token", "created", "modified", "acknowledged_at", "claimed_by", "claimed_at"]
    inlines = [EvidenceInline]

    def save_model(self, request: HttpRequest, obj: Report, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = services.report_submit(
            title=obj.title,
            text=obj.text,
            channel=Report.Channel.ADMIN,
            submitter=request.user,
            source_url=obj.source_url,
            publisher=obj.publisher,
            language=obj.language,
            date_published=obj.date_published,
            date_occurred=obj.date_occurred,
        )
        obj.pk = created.pk


@admin.register(Revision)
class RevisionAdmin(admin.ModelAdmin):
    list_display = ["incident", "action", "actor", "created"]
    list_filter = ["action"]
    readonly_fields = ["incident", "actor", "action", "changes", "created"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReportEvent)
class ReportEventAdmin(RevisionAdmin):
    list_display = ["report", "action", "public", "actor", "created"]
    readonly_fields = ["report", "actor", "action", "public", "detail", "created", "notified_at"]
