"""Demo accounts, one per role, for trying the platform locally (demo mode only)."""

import secrets

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group, User
from django.db import transaction

from .roles import AUDITOR, MODERATOR, REGULATOR

DEMO_ACCOUNTS = (
    ("moderator@demo.incidentcommons.local", MODERATOR, False),
    ("auditor@demo.incidentcommons.local", AUDITOR, False),
    ("regulator@demo.incidentcommons.local", REGULATOR, False),
    ("public@demo.incidentcommons.local", None, False),
    ("staff@demo.incidentcommons.local", None, True),
)


@transaction.atomic
def demo_accounts_create() -> list[tuple[str, str, str]]:
    """Create the missing demo accounts; return (e-mail, role, password) of the new ones.
    Passwords are random and returned only here, so they are shown once."""
    created = []
    for email, role, is_staff in DEMO_ACCOUNTS:
        if User.objects.filter(username=email).exists():
            continue
        password = secrets.token_urlsafe(12)
        user = User.objects.create_user(
            username=email, email=email, password=password, is_staff=is_staff, is_superuser=is_staff
        )
        if role:
            user.groups.add(Group.objects.get(name=role))
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        created.append((email, role or ("staff (admin)" if is_staff else "public"), password))
    return created
