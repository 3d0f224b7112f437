"""Choose the public form's hint threshold (``DEDUP_HINT_THRESHOLD``) on a dev split.

    .venv/bin/python benchmarks/_dedup_hints.py [--seed 1] [--thresholds 0.05 0.1 0.2]

The form's "Is it one of these?" shows up to three published incidents that
``engine.similar_published`` scores at or above the threshold, for what a person
has typed: a title and a description, with no date, URL or publisher. This
loads a dev split's history (``benchmarks/dedup.py``'s split, seed 1 by default:
a fitting seed) into a temporary SQLite database as published incidents, less
one report of each incident with several (the *repeat* probes: their incident
is in the catalogue), and takes the first report of each stream incident as a
*first* probe (its incident is not). Each probe's title and description go
through the hint's own scoring once; then for each threshold it prints

- repeats helped: the right incident is among the hints;
- repeats misled: hints shown, none of them right;
- first reports hinted: hints shown for an incident the catalogue does not have
  (they may still be related incidents, but none is the one being reported).

A helper of the dedup benchmark (the leading "_" keeps run.py from running it);
it reads ``../shared/data`` like the rest of the benchmarks.
"""

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
handle, DB_PATH = tempfile.mkstemp(suffix=".sqlite3", prefix="ic-hints-")
os.close(handle)
os.environ.update(DATABASE_URL=f"sqlite:///{DB_PATH}", CELERY_BROKER_URL="", REDIS_URL="", LOG_LEVEL="WARNING")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import override_settings  # noqa: E402

from benchmarks.dedup import DATA, split  # noqa: E402
from incidents.dedup import benchmark, engine  # noqa: E402


def probes(
    rows: list[dict[str, Any]], seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(history to load, repeat probes, first probes) of one split."""
    history, stream = split(rows, seed, 0.2)
    by_incident: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in history:
        if len(benchmark.incident_ids(row)) == 1:
            by_incident[int(row["incident_id"])].append(row)
    repeats = [max(group, key=lambda r: int(r["report_id"])) for group in by_incident.values() if len(group) > 1]
    held = {int(r["report_id"]) for r in repeats}
    firsts: dict[int, dict[str, Any]] = {}
    for row in sorted(stream, key=lambda r: int(r["report_id"])):
        firsts.setdefault(int(row["incident_id"]), row)
    return [r for r in history if int(r["report_id"]) not in held], repeats, list(firsts.values())


def hint_scores(row: dict[str, Any], keys: dict[int, str]) -> list[tuple[str, float]]:
    """What the form's hint scores for the row's title and description: (incident key, score),
    best first, through ``engine.similar_published`` itself with no bar (applied in ``main``)."""
    with override_settings(DEDUP_HINT_THRESHOLD=0.0):
        found = engine.similar_published(row.get("title") or "", row.get("description") or "", engine.MAX_CANDIDATES)
    return [(keys[incident.pk], score) for incident, score in found]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5])
    args = parser.parse_args()
    try:
        call_command("migrate", verbosity=0)
        rows = [json.loads(line) for line in (DATA / "aiid-reports-dev.jsonl").read_text().splitlines() if line]
        history, repeats, firsts = probes(rows, args.seed)
        benchmark.load_entities(
            [str(DATA / "aiid-incidents-dev.jsonl"), str(ROOT / "incidents/demo/aiid-incidents.jsonl")]
        )
        keys: dict[int, str] = {}
        benchmark.load_history(history, keys)
        scored_repeats = [(f"h:{row['incident_id']}", hint_scores(row, keys)) for row in repeats]
        scored_firsts = [hint_scores(row, keys) for row in firsts]
        print(f"seed {args.seed}: {len(history)} history reports, {len(repeats)} repeats, {len(firsts)} firsts")
        print("| threshold | repeats helped | repeats misled | first reports hinted |")
        print("| ---: | ---: | ---: | ---: |")
        for t in args.thresholds:
            helped = misled = 0
            for right, scored in scored_repeats:
                shown = [key for key, score in scored if score >= t][:3]
                helped += right in shown
                misled += bool(shown) and right not in shown
            hinted = sum(any(score >= t for _key, score in scored) for scored in scored_firsts)
            n, f = len(scored_repeats), len(scored_firsts)
            print(f"| {t:g} | {helped / n:.3f} | {misled / n:.3f} | {hinted / f:.3f} |")
    finally:
        Path(DB_PATH).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
