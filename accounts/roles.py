"""Roles are Django groups. Staff (``is_staff``) use the Django admin.

The table of what each role may see and do is ``docs/roles.md``; the tests in
``tests/accounts/test_permissions.py`` enforce it.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

MODERATOR = "moderator"
AUDITOR = "auditor"
REGULATOR = "regulator"
ROLES = (MODERATOR, AUDITOR, REGULATOR)


def has_role(user: AbstractBaseUser | AnonymousUser, role: str) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    cache = getattr(user, "_role_cache", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        user._role_cache = cache  # type: ignore[union-attr,attr-defined]
    return role in cache


def is_moderator(user: AbstractBaseUser | AnonymousUser) -> bool:
    return has_role(user, MODERATOR)
