"""Writes owned by the API app: keys (made, revoked, used)."""

import datetime

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone

from .models import ApiKey, hash_key, new_raw_key

# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


def api_key_create(*, user: User, name: str, scope: str = ApiKey.Scope.READ) -> tuple[ApiKey, str]:
    """A new key for ``user``; returns it with the secret, which is never stored or shown again."""
    raw = new_raw_key()
    key = ApiKey.objects.create(
        user=user, name=name.strip(), scope=scope, hint=raw[: len("ick_") + 4], key_hash=hash_key(raw)
    )
    return key, raw


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_keys_of(user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("revoked_at", "-created")


def api_key_touch(key: ApiKey) -> None:
    """Record a use; a conditional update, so concurrent requests write once a minute at most."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk, last_used_at=key.last_used_at).update(last_used_at=now)
        key.last_used_at = now
