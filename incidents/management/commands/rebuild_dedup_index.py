"""Empty the deduplication index and fill it again from every report–incident link."""

import time
from typing import Any

from django.core.management.base import BaseCommand

from incidents.dedup import index


class Command(BaseCommand):
    help = "Rebuild the deduplication index (terms, postings, incident features) from the links."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        count = index.rebuild()
        self.stdout.write(f"indexed {count} report–incident links in {time.perf_counter() - started:.1f} s")
