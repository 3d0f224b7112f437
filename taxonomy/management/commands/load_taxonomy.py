from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from taxonomy.loader import DEFAULT_PATH, load_taxonomy_file, total_changes


class Command(BaseCommand):
    help = "Create or update the taxonomy vocabularies, terms and crosswalks from a JSON file. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--file", type=Path, default=DEFAULT_PATH, help=f"JSON file to load (default: {DEFAULT_PATH})"
        )

    def handle(self, *args: Any, file: Path, **options: Any) -> None:
        try:
            counts = load_taxonomy_file(file)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        for key, value in counts.items():
            self.stdout.write(f"{key}: {value}")
        if total_changes(counts):
            self.stdout.write(self.style.SUCCESS(f"Loaded {file}."))
        else:
            self.stdout.write(f"Nothing to change: the database already matches {file}.")
