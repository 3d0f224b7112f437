"""Rates: anonymous clients by address, keys by key; submissions have their own, lower rate."""

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .authentication import api_key_of


class _RateFromSettings(SimpleRateThrottle):
    """Reads the rate when asked (DRF copies the rates once, at import), so a changed
    setting takes effect without a restart of the test process."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonThrottle(_RateFromSettings):
    scope = "anon"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if api_key_of(request) is not None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class KeyThrottle(_RateFromSettings):
    scope = "key"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        key = api_key_of(request)
        if key is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": key.pk}


class SubmitThrottle(_RateFromSettings):
    scope = "submit"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if request.method != "POST":
            return None
        key = api_key_of(request)
        ident = key.pk if key is not None else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
