"""The moderation queue at several suggest thresholds, from one dedup_benchmark run.

    .venv/bin/python benchmarks/_dedup_queue.py HISTORY.jsonl STREAM.jsonl PREDICTIONS.jsonl

A suggestion does not change the grouping, so one run gives the whole curve (docs/dedup.md,
"The suggest threshold"): each threshold relabels the reports that were not auto-linked
(``suggest`` when the best score reaches it, else ``new``) and ``benchmark.metrics`` counts
the queue's reach (of the repeats not auto-linked, the share it holds, and the share it holds
with a right incident among the first three candidates) and the first reports it holds.
"""

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from incidents.dedup import benchmark  # noqa: E402

THRESHOLDS = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4]


def results(stream: list[dict[str, Any]], predictions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The predictions in the shape ``benchmark.metrics`` reads (timings left out)."""
    rows = {int(row["report_id"]): row for row in stream}
    return [
        {
            **p,
            "row": rows[int(p["report_id"])],
            "final": p["incident"] if p["decision"] == "auto_link" else f"s:{p['report_id']}",
            "ms": 0.0,
        }
        for p in sorted(predictions, key=lambda p: int(p["report_id"]))
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__)
        return 2
    history, stream, predictions = (benchmark.read_rows(path) for path in argv)
    run = results(stream, predictions)
    print("threshold | reach | reach, right in first 3 | first reports in the queue | queue")
    for t in THRESHOLDS:
        relabelled = [
            r
            if r["decision"] == "auto_link"
            else {**r, "decision": "suggest" if r["candidates"] and r["candidates"][0][1] >= t else "new"}
            for r in run
        ]
        m = benchmark.metrics(history, relabelled)
        print(
            f"{t:.2f} | {m['queue_reach']:.3f} | {m['queue_reach_right_in_3']:.3f} | {m['queue_first_reports']:.3f} "
            f"| {sum(r['decision'] == 'suggest' for r in relabelled)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
