"""What deduplication decided for each report, and what moderators taught it.

Imported by ``incidents.models`` so the tables belong to the incidents app.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DedupResult(models.Model):
    """The outcome of ``dedup_report`` for one report: decision, scored candidates with
    their reasons, and the engine version that produced them."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class Decision(models.TextChoices):
        AUTO_LINK = "auto_link", _("Linked automatically")
        SUGGEST = "suggest", _("Possible duplicate")
        NEW = "new", _("Looks new")

    report = models.OneToOneField("incidents.Report", on_delete=models.CASCADE, related_name="dedup")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    # The best candidate (the incident linked to when auto-linked).
    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    score = models.FloatField(null=True, blank=True)
    # [{"incident": pk, "score": 0.93, "reasons": {...}}, ...] best first.
    candidates = models.JSONField(default=list, blank=True)
    engine_version = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["decision", "state"], name="dedup_decision_state")]

    def __str__(self) -> str:
        return f"{self.report_id}: {self.decision or self.state}"


class PairVerdict(models.Model):
    """A moderator's word on a report and an incident: the same event or not.
    "Different" pairs are never suggested again."""

    class Verdict(models.TextChoices):
        SAME = "same", _("Same incident")
        DIFFERENT = "different", _("Not a duplicate")

    report = models.ForeignKey("incidents.Report", on_delete=models.CASCADE, related_name="verdicts")
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="verdicts")
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "incident"], name="verdict_unique_pair")]

    def __str__(self) -> str:
        return f"{self.report_id} / {self.incident_id}: {self.verdict}"


# --- The engine's index (incidents/dedup/index_models.py) ----------------------
from .index_models import DedupIncident, DedupPosting, DedupTerm  # noqa: E402

__all__ = ["DedupIncident", "DedupPosting", "DedupResult", "DedupTerm", "PairVerdict"]
