"""API keys and the memory of idempotent submissions.

A key is shown once, when it is made; only its SHA-256 is stored. Keys are
random 32-byte secrets, so a fast hash is enough (a slow password hash guards
guessable secrets; these are not). We do not use djangorestframework-api-key:
it is made for machine clients without user accounts, and our keys belong to a
person, carry a scope and record their last use.
"""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

KEY_PREFIX = "ick_"


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_raw_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKey(models.Model):
    class Scope(models.TextChoices):
        READ = "read", _("Read")
        SUBMIT = "submit", _("Read and submit reports")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=100, help_text=_("What the key is for, e.g. “monthly statistics”."))
    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices, default=Scope.READ)
    # The first characters of the key, shown in lists so people can tell keys apart.
    hint = models.CharField(max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_submit(self) -> bool:
        return self.scope == self.Scope.SUBMIT


class IdempotentRequest(models.Model):
    """A POST made with an ``Idempotency-Key`` header, and what it created.

    The row is written in the same transaction as the report, so a retried request
    either finds it (and gets the same answer) or finds nothing and nothing was made."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    report = models.ForeignKey("incidents.Report", on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique")]
