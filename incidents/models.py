"""Reports, incidents, the links between them, entities, tags and revisions.

See ``docs/architecture.md``: every channel writes through
``incidents.services.report_submit``; everything public reads through
``incidents.selectors``, which apply one visibility rule.
"""

import re
import secrets

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from taxonomy.models import Term


class Entity(models.Model):
    """An organisation or an AI system, known under several names."""

    class Kind(models.TextChoices):
        ORGANISATION = "organisation", _("Organisation")
        SYSTEM = "system", _("AI system")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    created = models.DateTimeField(default=timezone.now)
    modified = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("entity")
        verbose_name_plural = _("entities")

    def __str__(self) -> str:
        return self.name


def normalise_alias(name: str) -> str:
    """The key under which names of one entity meet: "OpenAI", "Open AI" and
    "openai.com" all become "openai"."""
    key = name.strip().lower()
    key = re.sub(r"^https?://", "", key)
    key = re.sub(r"^www\.", "", key)
    key = key.split("/", 1)[0] if "." in key.split("/", 1)[0] else key
    key = re.sub(r"\.(com|org|net|ai|io|co|gov|edu)(\.[a-z]{2})?$", "", key)
    key = re.sub(r"\b(inc|ltd|llc|corp|corporation|plc|gmbh|sa)\b\.?", "", key)
    return re.sub(r"[^0-9a-z\u00c0-\uffff]+", "", key)


class EntityAlias(models.Model):
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(_("alias"), max_length=200)
    key = models.CharField(max_length=200, unique=True, editable=False)

    class Meta:
        verbose_name = _("alias")
        verbose_name_plural = _("aliases")

    def save(self, *args: object, **kwargs: object) -> None:
        self.key = normalise_alias(self.alias)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self.alias


class Incident(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        MERGED = "merged", _("Merged")

    public_id = models.CharField(_("public id"), max_length=20, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True, help_text=_("Markdown."))
    # Sanitised HTML rendered from the Markdown description on save.
    description_html = models.TextField(editable=False, blank=True)
    date_occurred = models.DateField(_("date occurred"), null=True, blank=True, db_index=True)
    countries = CountryField(_("countries"), multiple=True, blank=True)
    severity = models.ForeignKey(
        Term,
        verbose_name=_("severity"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"vocabulary__code": "oecd-severity"},
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    modified = models.DateTimeField(default=timezone.now, db_index=True)
    published_at = models.DateTimeField(_("first published"), null=True, blank=True, db_index=True)
    # Where an imported incident came from (e.g. "aiid" and its number), so imports are upserts.
    source_name = models.CharField(max_length=100, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    # Kept up to date on PostgreSQL only (incidents.search); unused on SQLite.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-date_occurred", "-pk"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        # The catalogue's default order has its own index on PostgreSQL (migration 0004).
        indexes = [
            models.Index(fields=["status", "-date_occurred"], name="incident_status_date"),
            # The API's stats and filters read these columns of every published incident: a narrow
            # covering index spares reading the wide rows (PostgreSQL; docs/benchmarks.md).
            models.Index(
                fields=["id"],
                include=["countries", "date_occurred", "published_at", "severity"],
                condition=models.Q(status="published"),
                name="incident_published_cover",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source_name", "external_id"],
                condition=~models.Q(external_id=""),
                name="incident_unique_external_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("incidents:detail", args=[self.public_id])

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    @property
    def event_type(self) -> str:
        """OECD: an incident (harm occurred) or a hazard (harm could plausibly occur), from the severity."""
        if self.severity is None:
            return ""
        return "hazard" if self.severity.code in {"hazard", "serious-hazard"} else "incident"


class IncidentEntity(models.Model):
    class Role(models.TextChoices):
        DEVELOPER = "developer", _("Developer")
        DEPLOYER = "deployer", _("Deployer")
        HARMED = "harmed_party", _("Harmed party")

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="entity_links")
    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="incident_links")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "entity", "role"], name="incident_entity_role_unique")
        ]
        ordering = ["role", "entity__name"]


def new_status_token() -> str:
    return secrets.token_urlsafe(24)


class Report(models.Model):
    """One account of what happened, kept as it arrived."""

    class Channel(models.TextChoices):
        WEB = "web", _("Web form")
        API = "api", _("API")
        AUDIT = "audit", _("Audit finding")
        FEED = "feed", _("Feed import")
        ADMIN = "admin", _("Admin")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        IN_REVIEW = "in_review", _("In review")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")

    class SubmitterRole(models.TextChoices):
        AFFECTED = "affected", _("I was affected by it")
        WITNESS = "witness", _("I saw it happen")
        PROFESSIONAL = "professional", _("I work with or on the AI system")
        RESEARCHER = "researcher", _("Researcher or journalist")
        OTHER = "other", _("Other, or I read about it")

    title = models.CharField(_("title"), max_length=300)
    text = models.TextField(_("what happened"), blank=True)
    source_url = models.URLField(_("source link"), max_length=1000, blank=True)
    # The source URL with tracking, AMP and mobile variants removed (incidents.dedup.urls).
    canonical_url = models.CharField(max_length=1000, blank=True, db_index=True, editable=False)
    other_links = models.JSONField(_("other links"), default=list, blank=True)
    publisher = models.CharField(_("publisher"), max_length=200, blank=True)
    authors = models.CharField(_("authors"), max_length=500, blank=True)
    language = models.CharField(_("language"), max_length=10, default="en")
    date_published = models.DateField(_("date published"), null=True, blank=True)
    date_occurred = models.DateField(_("when it happened"), null=True, blank=True)
    countries = CountryField(_("where it happened"), multiple=True, blank=True)
    ai_system = models.CharField(_("AI system or company"), max_length=300, blank=True)
    harm = models.TextField(_("harm"), blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.WEB)
    submitter_role = models.CharField(_("submitter role"), max_length=20, choices=SubmitterRole.choices, blank=True)
    # Private: never shown on a public page, in the API or an export.
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RECEIVED)
    public_reason = models.TextField(_("reason given to the submitter"), blank=True)
    status_token = models.CharField(max_length=64, unique=True, default=new_status_token, editable=False)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="claimed_reports"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Feeds: the source and its id of the item, so an import is an upsert.
    source_name = models.CharField(max_length=100, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    # Set once by the follow-up task (incidents.tasks.report_received).
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    modified = models.DateTimeField(default=timezone.now, db_index=True)
    incidents: "models.ManyToManyField[Incident, ReportIncidentLink]" = models.ManyToManyField(
        Incident, through="ReportIncidentLink", related_name="reports"
    )

    class Meta:
        ordering = ["-created", "-pk"]
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        constraints = [
            models.UniqueConstraint(
                fields=["source_name", "external_id"],
                condition=~models.Q(external_id=""),
                name="report_unique_external_id",
            )
        ]
        indexes = [models.Index(fields=["status", "created"], name="report_status_created")]

    def __str__(self) -> str:
        return self.title

    def get_status_url(self) -> str:
        return reverse("reporting:status", args=[self.status_token])


class Evidence(models.Model):
    """A file attached to a report. Private: served only to moderators."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="evidence")
    file = models.FileField(upload_to="evidence/%Y/%m/")
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.original_name


class ReportIncidentLink(models.Model):
    """A report supports an incident; the link says who or what made it."""

    class Method(models.TextChoices):
        MODERATOR = "moderator", _("Moderator")
        DEDUP = "dedup", _("Deduplication engine")
        IMPORT = "import", _("Import")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="links")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="links")
    method = models.CharField(max_length=20, choices=Method.choices)
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    score = models.FloatField(null=True, blank=True)
    confirmed = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "incident"], name="link_unique_pair")]


class Tagging(models.Model):
    """One term on one record, with its provenance. Incidents and reports (and
    later audit findings) carry terms through this one model."""

    class Source(models.TextChoices):
        SUBMITTER = "submitter", _("Submitter's guess")
        MODERATOR = "moderator", _("Moderator")
        IMPORT = "import", _("Import")
        CURATED = "curated", _("Curated by hand")

    term = models.ForeignKey(Term, on_delete=models.PROTECT, related_name="taggings")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="taggings")
    report = models.ForeignKey(Report, null=True, blank=True, on_delete=models.CASCADE, related_name="taggings")
    source = models.CharField(max_length=20, choices=Source.choices)
    tagged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(incident__isnull=False, report__isnull=True)
                | models.Q(incident__isnull=True, report__isnull=False),
                name="tagging_one_record",
            ),
            models.UniqueConstraint(
                fields=["incident", "term"], condition=models.Q(incident__isnull=False), name="tagging_incident_term"
            ),
            models.UniqueConstraint(
                fields=["report", "term"], condition=models.Q(report__isnull=False), name="tagging_report_term"
            ),
        ]
        # Counting incidents by term (the API's stats) as an index-only scan.
        indexes = [
            models.Index(
                fields=["term", "incident"], condition=models.Q(incident__isnull=False), name="tagging_term_incident"
            )
        ]


class Revision(models.Model):
    """A change to an incident: who, when, and each field before and after."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="revisions")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=40)
    changes = models.JSONField(default=dict)
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created", "-pk"]


class ReportEvent(models.Model):
    """What happened to a report (claimed, linked, rejected ...): the
    moderation record, and the timeline the submitter sees (public events)."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=40)
    public = models.BooleanField(default=False)
    detail = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)
    # Set when the submitter has been e-mailed about this event (at most once).
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created", "pk"]


class MergeRecord(models.Model):
    """One incident merged into another, with exactly what the merge moved or
    added, so ``incident_unmerge`` can put everything back.

    ``moved`` (written by ``incidents.services.incident_merge``)::

        {
          "version": 1,
          "source_status": "published",        # the source's status before the merge
          "links_moved": [link, ...],          # source links re-pointed to the target (same row id)
          "links_dropped": [link, ...],        # source links deleted: the target already had the report
          "taggings_added": [id, ...],         # Tagging rows created on the target (copies of the source's)
          "taggings_present": [term_id, ...],  # source terms the target already had
          "taggings_skipped": [term_id, ...],  # source terms of one-term vocabularies the target already uses
          "entities_added": [id, ...],         # IncidentEntity rows created on the target
          "entities_present": [[entity_id, role], ...],
          "report_status": {"<report id>": ["in_review", "accepted"]},  # statuses the merge changed
        }

    where ``link`` is ``{"id", "report", "method", "made_by", "score", "confirmed",
    "created"}`` as the source's row was, plus ``"target_link"`` (the target's row
    kept) for a dropped link. The source's own taggings and entity links are never
    touched; entities and their aliases are shared rows, so nothing is copied per alias.
    """

    source = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="merges_out")
    target = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="merges_in")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    moved = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [
            # An incident is merged into at most one other at a time.
            models.UniqueConstraint(
                fields=["source"], condition=models.Q(undone_at__isnull=True), name="merge_one_active_per_source"
            ),
            models.CheckConstraint(condition=~models.Q(source=models.F("target")), name="merge_not_into_itself"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} → {self.target_id}"

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None


class PublicIdCounter(models.Model):
    """Next number of INC-YYYY-NNNNNN per year; rows are locked while used."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)


# Deduplication's tables live with the engine, in incidents/dedup/.
from .dedup.models import DedupResult, PairVerdict  # noqa: E402

__all__ = [
    "DedupResult",
    "Entity",
    "EntityAlias",
    "Evidence",
    "Incident",
    "IncidentEntity",
    "MergeRecord",
    "PairVerdict",
    "PublicIdCounter",
    "Report",
    "ReportEvent",
    "ReportIncidentLink",
    "Revision",
    "Tagging",
]
