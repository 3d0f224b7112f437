"""The moderation queue at several suggest thresholds, from one dedup_benchmark run.

    .venv/bin/python benchmarks/_dedup_queue.py HISTORY.jsonl STREAM.jsonl PREDICTIONS.jsonl

A suggestion does not change the grouping, so one run gives the whole curve (docs/dedup.md,
"The suggest threshold"). For each threshold: of the repeats that were not auto-linked, the
share whose best score reaches it (reach) and the share that also has a right incident among
the first three candidates; of the first reports not auto-linked, the share that reaches it
(first reports put to moderators all the same); and the size of the queue.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

THRESHOLDS = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4]


def read(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def incident_ids(row: dict[str, Any]) -> set[int]:
    return {int(i) for i in row.get("incident_ids") or [row["incident_id"]]}


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__)
        return 2
    history, stream, predictions = read(argv[0]), read(argv[1]), read(argv[2])
    rows = {int(row["report_id"]): row for row in stream}
    seen: dict[int, set[str]] = defaultdict(set)
    for row in history:
        for i in incident_ids(row):
            seen[i].add(f"h:{i}")
    repeats: list[tuple[float, bool]] = []
    firsts: list[float] = []
    for p in sorted(predictions, key=lambda p: int(p["report_id"])):
        row = rows[int(p["report_id"])]
        targets = set().union(*(seen[i] for i in incident_ids(row)))
        best = p["candidates"][0][1] if p["candidates"] else 0.0
        if p["decision"] != "auto_link":
            if targets:
                repeats.append((best, bool(targets & {key for key, _score in p["candidates"][:3]})))
            else:
                firsts.append(best)
        final = p["incident"] if p["decision"] == "auto_link" else f"s:{p['report_id']}"
        for i in incident_ids(row):
            seen[i].add(final)
    print(f"repeats not auto-linked: {len(repeats)}; first reports not auto-linked: {len(firsts)}")
    print("threshold | reach | reach, right in first 3 | first reports in the queue | queue")
    for t in THRESHOLDS:
        reached = [right for best, right in repeats if best >= t]
        queued_firsts = sum(best >= t for best in firsts)
        print(
            f"{t:.2f} | {len(reached) / max(len(repeats), 1):.3f} | {sum(reached) / max(len(repeats), 1):.3f} "
            f"| {queued_firsts / max(len(firsts), 1):.3f} | {len(reached) + queued_firsts}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
