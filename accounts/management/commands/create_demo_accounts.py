from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import DEMO_ACCOUNTS, demo_accounts_create


class Command(BaseCommand):
    help = "Create one demo account per role and print their passwords once (DEMO_MODE=1 only)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_MODE:
            raise CommandError("Demo accounts are only created in demo mode (DEMO_MODE=1, as `make run` sets).")
        created = demo_accounts_create()
        if not created:
            self.stdout.write(
                f"Demo accounts exist ({', '.join(e for e, _r, _s in DEMO_ACCOUNTS)}); their passwords were "
                "printed when they were created. To set a new one: .venv/bin/python manage.py changepassword EMAIL"
            )
            return
        self.stdout.write(self.style.WARNING("Demo accounts (shown once; sign in at /accounts/login/):"))
        for email, role, password in created:
            self.stdout.write(f"  {role:<14} {email:<40} {password}")
