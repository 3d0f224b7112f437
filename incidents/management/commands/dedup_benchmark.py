"""Measure deduplication: history loaded as incidents, stream reports submitted one by one.

    python manage.py dedup_benchmark --history H.jsonl --stream S.jsonl --predictions-out P.jsonl [--synthetic N]

Runs against the configured database, which must hold nothing but an earlier
run of this benchmark (``--force`` to run anyway; ``benchmarks/dedup.py`` makes
a database of its own). See docs/dedup.md.
"""

import gc
import json
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.dedup import benchmark


class Command(BaseCommand):
    help = "Measure the deduplication engine on a history and a stream of reports (AIID jsonl format)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--history", required=True, help="reports already grouped into incidents (jsonl)")
        parser.add_argument("--stream", required=True, help="reports submitted one by one, in report_id order")
        parser.add_argument("--predictions-out", required=True, help="one JSON line per stream report")
        parser.add_argument("--synthetic", type=int, default=0, help="grow the history to N reports")
        parser.add_argument(
            "--entities",
            action="append",
            default=[],
            help="AIID incidents jsonl whose deployer/developer slugs are known entities (repeatable; "
            "default: the demo incidents)",
        )
        parser.add_argument("--force", action="store_true", help="run even if the database holds other data")
        parser.add_argument("--metrics-out", help="also write the numbers as JSON")
        parser.add_argument("--features-out", help=argparse_hidden_help())
        parser.add_argument("--link-truth", action="store_true", help=argparse_hidden_help())

    def handle(self, *args: Any, **options: Any) -> None:
        foreign = benchmark.foreign_data()
        if foreign and not options["force"]:
            raise CommandError(
                f"the database holds {foreign} reports and incidents that are not benchmark data: "
                "point DATABASE_URL at an empty database (benchmarks/dedup.py makes one) or pass --force"
            )
        history = benchmark.read_rows(options["history"])
        stream = benchmark.read_rows(options["stream"])
        benchmark.reset()
        entities = benchmark.load_entities(options["entities"] or [str(benchmark.DEMO_INCIDENTS)])
        benchmark.warm_up()
        if options["synthetic"] > len(history):
            history += list(benchmark.synthetic_rows(history, options["synthetic"] - len(history)))
        keys: dict[int, str] = {}
        started = time.perf_counter()
        incidents = benchmark.load_history(history, keys)
        load_seconds = time.perf_counter() - started
        # What is loaded now (the model, and the history the benchmark holds: a million rows at
        # 1 M, its own bookkeeping, not a worker's) is left out of the garbage collector's walks,
        # as a worker freezes what it loaded (config.celery.freeze_what_is_loaded; docs/dedup.md,
        # "The garbage collector").
        gc.freeze()
        self.stdout.write(
            f"history: {len(history)} reports in {incidents} incidents loaded and indexed in {load_seconds:.1f} s "
            f"({len(history) / max(load_seconds, 1e-9):.0f} reports/s); {entities} entities"
        )
        dump = open(options["features_out"], "w", encoding="utf-8") if options["features_out"] else None  # noqa: SIM115
        try:
            on_features = benchmark.feature_dumper(dump, keys) if dump else None
            results = benchmark.run_stream(
                stream, keys, options["predictions_out"], on_features=on_features, link_truth=options["link_truth"]
            )
        finally:
            if dump:
                dump.close()
        numbers = benchmark.metrics(history, results)
        numbers.update(
            {
                "history_reports": len(history),
                "history_incidents": incidents,
                "bulk_reports_per_second": len(history) / max(load_seconds, 1e-9),
                "engine_version": benchmark.engine_version(),
                "auto_link_threshold": settings.DEDUP_AUTO_LINK_THRESHOLD,
                "suggest_threshold": settings.DEDUP_SUGGEST_THRESHOLD,
                "linked_by_truth": bool(options["link_truth"]),
                "candidate_rows_read": benchmark.candidate_rows_read(),
            }
        )
        for name, value in numbers.items():
            shown = f"{value:.4f}" if isinstance(value, float) else value
            self.stdout.write(f"{name}: {shown}")
        if options["link_truth"]:
            self.stdout.write("linked by truth (for fitting): grouping and first-report numbers are not the engine's")
        if options["metrics_out"]:
            with open(options["metrics_out"], "w", encoding="utf-8") as handle:
                json.dump(numbers, handle, indent=2)


def argparse_hidden_help() -> str:
    import argparse

    return argparse.SUPPRESS
