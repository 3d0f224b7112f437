"""Apply the migrations, one container at a time.

Run by docker/entrypoint.sh when MIGRATE=1. On PostgreSQL a session-level
advisory lock makes a second web replica wait instead of racing the first.
"""

import os
import sys
from pathlib import Path

import django

# Run as a script from docker/: the project root is one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# "IC" + "migrate": any constant works, as long as every container uses the same one.
LOCK_ID = 0x4943_0001


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()

    from django.core.management import call_command
    from django.db import connection

    locked = connection.vendor == "postgresql"
    if locked:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_ID])
    try:
        call_command("migrate", interactive=False, verbosity=1)
    finally:
        if locked and connection.connection is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_ID])


if __name__ == "__main__":
    main()
