"""API keys travel in ``Authorization: Api-Key <key>`` (or ``X-Api-Key``)."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.roles import REGULATOR, has_role

from .models import ApiKey, hash_key
from .services import api_key_touch

KEYWORD = "Api-Key"


def raw_key_of(request: Request) -> str | None:
    header = authentication.get_authorization_header(request).decode("latin-1")
    if header:
        keyword, _sep, value = header.partition(" ")
        if keyword.lower() == KEYWORD.lower():
            return value.strip() or None
        return None
    return request.META.get("HTTP_X_API_KEY") or None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``request.user`` is the key's owner, ``request.auth`` the ApiKey.

    A wrong or revoked key is refused (401), never treated as anonymous: a client
    with a typo should hear about it, not silently get the lower limits."""

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, ApiKey] | None:
        raw = raw_key_of(request)
        if raw is None:
            return None
        key = ApiKey.objects.select_related("user").filter(key_hash=hash_key(raw)).first()
        if key is None:
            raise exceptions.AuthenticationFailed(_("This API key is not valid."))
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("This API key was revoked."))
        if not key.user.is_active:
            raise exceptions.AuthenticationFailed(_("The account of this API key is disabled."))
        api_key_touch(key)
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


def api_key_of(request: Any) -> ApiKey | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiKey) else None


def is_regulator_key(request: Any) -> bool:
    key = api_key_of(request)
    return key is not None and has_role(key.user, REGULATOR)
