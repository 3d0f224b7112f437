from typing import Any

from django.core.management.base import BaseCommand

from incidents.demo.loader import seed_demo


class Command(BaseCommand):
    help = (
        "Load the demo content shipped in incidents/demo/: 250 real incidents and their reports from the "
        "AI Incident Database (CC BY-SA 4.0). Safe to run again: nothing is duplicated."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = seed_demo()
        if counts["incidents"] or counts["reports"]:
            self.stdout.write(
                f"Demo content: {counts['incidents']} incidents ({counts['published']} published with hand-curated "
                f"tags), {counts['reports']} reports, from the AI Incident Database (incidentdatabase.ai), "
                f"in {counts['seconds']} s."
            )
        else:
            self.stdout.write("Demo content already loaded; nothing added.")
