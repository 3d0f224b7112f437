from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from .authentication import api_key_of, is_regulator_key


class CanSubmit(BasePermission):
    """Submitting reports needs a key with the "read and submit" scope."""

    message = _("Submitting reports needs an API key with the “read and submit” scope.")

    def has_permission(self, request: Any, view: Any) -> bool:
        key = api_key_of(request)
        return key is not None and key.can_submit


class IsRegulatorKey(BasePermission):
    """Non-public statistics: keys of accounts in the regulator role."""

    message = _("These statistics are for regulators' API keys.")

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_regulator_key(request)
