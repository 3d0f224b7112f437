"""Benchmark of report deduplication (``make bench`` runs it; see docs/dedup.md).

    .venv/bin/python benchmarks/dedup.py [--seeds 3 4] [--synthetic 10000 100000] [--sqlite] [--no-docs]

Quality: the dev reports (``../shared/data/aiid-reports-dev.jsonl``) are split
by incident: the reports of a random 20 % of the incidents are the stream
(incidents never seen before), the rest the history. Each seed is one split;
``manage.py dedup_benchmark`` runs on it in a fresh database. The engine's
weights are fitted on seeds 1 and 2 (``benchmarks/_dedup_fit.py``), so the
default seeds are the held-out 3 and 4. Cost: the first seed's stream against
a history grown with ``--synthetic N`` generated reports (100 000 takes about
20 minutes).

On PostgreSQL (DATABASE_URL, default ``postgres://postgres@127.0.0.1:5432/postgres``)
each run gets a database of its own, ``ic_dedup_bench`` (dropped and created);
``--sqlite`` uses a temporary SQLite file instead. Results are printed, saved in
benchmarks/out/dedup.json and written into docs/benchmarks.md between the
``results:dedup`` markers.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalogue import DEFAULT_URL, database_url, git_commit, prepare_database

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "out"
DOC = ROOT / "docs" / "benchmarks.md"
START = "<!-- results:dedup:start -->"
END = "<!-- results:dedup:end -->"
# The splits benchmarks/_dedup_fit.py fitted the engine on: quality is measured on others.
FITTING_SEEDS = {1, 2}
HELD_OUT_SEEDS = [3, 4]
LABELS = {
    "recall_at_1": "recall@1",
    "recall_at_5": "recall@5",
    "bcubed_f1": "B³ F1",
    "first_not_auto_linked": "first reports not auto-linked",
}
TARGETS = {"recall_at_1": 0.93, "recall_at_5": 0.98, "bcubed_f1": 0.90, "first_not_auto_linked": 0.95}


def split(rows: list[dict[str, Any]], seed: int, share: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(history, stream): the stream holds every report of a random ``share`` of the incidents."""
    incidents = sorted({int(row["incident_id"]) for row in rows})
    random.Random(seed).shuffle(incidents)
    stream_ids = set(incidents[: round(len(incidents) * share)])
    history = [row for row in rows if int(row["incident_id"]) not in stream_ids]
    stream = [row for row in rows if int(row["incident_id"]) in stream_ids]
    return history, stream


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def run_once(name: str, history: Path, stream: Path, *, sqlite: bool, synthetic: int, db_name: str) -> dict[str, Any]:
    env = dict(os.environ, CELERY_BROKER_URL="", REDIS_URL="", LOG_LEVEL="WARNING")
    if sqlite:
        handle, path = tempfile.mkstemp(suffix=".sqlite3", prefix="ic-dedup-")
        os.close(handle)
        env["DATABASE_URL"] = f"sqlite:///{path}"
    else:
        base = os.environ.get("DATABASE_URL") or DEFAULT_URL
        prepare_database(base, db_name, recreate=True)
        env["DATABASE_URL"] = database_url(base, db_name)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    metrics = OUT / f"dedup-{name}.json"
    command = [
        python,
        "manage.py",
        "dedup_benchmark",
        "--history",
        str(history),
        "--stream",
        str(stream),
        "--predictions-out",
        str(OUT / f"dedup-{name}-predictions.jsonl"),
        "--metrics-out",
        str(metrics),
        "--entities",
        str(DATA / "aiid-incidents-dev.jsonl"),
        "--entities",
        str(ROOT / "incidents" / "demo" / "aiid-incidents.jsonl"),
    ]
    if synthetic:
        command += ["--synthetic", str(synthetic)]
    print(f"-- {name}", flush=True)
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    if sqlite:
        Path(env["DATABASE_URL"].removeprefix("sqlite:///")).unlink(missing_ok=True)
    result: dict[str, Any] = json.loads(metrics.read_text())
    result["name"] = name
    result["database"] = "SQLite" if sqlite else "PostgreSQL"
    return result


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def results_markdown(info: dict[str, Any], quality: list[dict[str, Any]], cost: list[dict[str, Any]]) -> str:
    first = quality[0] if quality else cost[0] if cost else {}
    lines = [
        START,
        "<!-- Written by benchmarks/dedup.py: edit the script, not this section. -->",
        f"Measured on {info['date']} at commit {info['commit']}; {info['cpus']} CPUs ({info['cpu']}), "
        f"Python {info['python']}, engine {first.get('engine_version', '?')}.",
        "",
        "Quality: dev reports split by incident (stream = every report of 20 % of the incidents, "
        "never seen before; history = the rest); the weights were fitted on seeds "
        + " and ".join(map(str, sorted(FITTING_SEEDS)))
        + (", so these splits are held out." if not FITTING_SEEDS & {r.get("seed") for r in quality} else ".")
        + f" Thresholds: auto-link {fmt(first.get('auto_link_threshold'), 2)}, "
        f"suggest {fmt(first.get('suggest_threshold'), 2)}; "
        "a suggestion counts as not linked. One run at a time.",
        "",
        "| split | db | history reports | stream reports | recall@1 | recall@5 | first reports not auto-linked "
        "| B³ precision | B³ recall | B³ F1 | auto / suggest / new | p50 ms | p95 ms | peak RSS MB "
        "| bulk import reports/s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in quality:
        d = r["decisions"]
        lines.append(
            f"| {r['name']} | {r['database']} | {r['history_reports']} | {r['stream_reports']} "
            f"| {fmt(r['recall_at_1'])} | {fmt(r['recall_at_5'])} | {fmt(r['first_not_auto_linked'])} "
            f"| {fmt(r['bcubed_precision'])} | {fmt(r['bcubed_recall'])} | {fmt(r['bcubed_f1'])} "
            f"| {d.get('auto_link', 0)} / {d.get('suggest', 0)} / {d.get('new', 0)} "
            f"| {fmt(r['p50_ms'], 1)} | {fmt(r['p95_ms'], 1)} | {fmt(r['peak_rss_mb'], 0)} "
            f"| {fmt(r['bulk_reports_per_second'], 0)} |"
        )
    if quality:
        lines += [
            "",
            "Repeats with a summary (the rest have a title alone): "
            + "; ".join(
                f"{r['name']}: {fmt(r.get('repeats_with_text'))} repeats, recall@1 "
                f"{fmt(r.get('recall_at_1_with_text'))}, recall@5 {fmt(r.get('recall_at_5_with_text'))}"
                for r in quality
            )
            + ".",
        ]
        mean = {k: sum(r[k] or 0 for r in quality) / len(quality) for k in TARGETS}
        lines += [
            "",
            "Mean over the splits against the targets: "
            + "; ".join(
                f"{LABELS[k]} {mean[k]:.3f} (target ≥ {t}: {'met' if mean[k] >= t else '**not met**'})"
                for k, t in TARGETS.items()
            )
            + ".",
        ]
    if cost:
        lines += [
            "",
            "Cost: the first split's stream against a history grown with generated reports "
            "(per report: report_submit, the dedup task inline, and a new incident when not linked).",
            "",
            "| history reports | db | bulk import reports/s | p50 ms | p95 ms | peak RSS MB | recall@1 | recall@5 "
            "| first reports not auto-linked | B³ F1 |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in cost:
            lines.append(
                f"| {r['history_reports']:,} | {r['database']} | {fmt(r['bulk_reports_per_second'], 0)} "
                f"| {fmt(r['p50_ms'], 1)} | {fmt(r['p95_ms'], 1)} | {fmt(r['peak_rss_mb'], 0)} "
                f"| {fmt(r['recall_at_1'])} | {fmt(r['recall_at_5'])} | {fmt(r['first_not_auto_linked'])} "
                f"| {fmt(r['bcubed_f1'])} |"
            )
    lines.append(END)
    return "\n".join(lines)


def write_doc(section: str) -> None:
    text = DOC.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Report deduplication (`benchmarks/dedup.py`)\n\n" + section + "\n"
    DOC.write_text(text)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "commit": git_commit(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--seeds", type=int, nargs="*", default=HELD_OUT_SEEDS, help="one split per seed (3 4: held out from fitting)"
    )
    parser.add_argument("--share", type=float, default=0.2, help="share of incidents in the stream (0.2)")
    parser.add_argument(
        "--synthetic", type=int, nargs="*", default=[10_000, 100_000], help="history sizes for cost (10000 100000)"
    )
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite database instead of PostgreSQL")
    parser.add_argument("--db-name", default="ic_dedup_bench", help="PostgreSQL database of the benchmark")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = parser.parse_args(argv)

    rows = [json.loads(line) for line in (DATA / "aiid-reports-dev.jsonl").read_text().splitlines() if line]
    OUT.mkdir(parents=True, exist_ok=True)
    quality, cost = [], []
    first_files: tuple[Path, Path] | None = None
    for seed in args.seeds:
        history, stream = split(rows, seed, args.share)
        h, s = OUT / f"dedup-split{seed}-history.jsonl", OUT / f"dedup-split{seed}-stream.jsonl"
        write_rows(h, history)
        write_rows(s, stream)
        first_files = first_files or (h, s)
        result = run_once(f"seed {seed}", h, s, sqlite=args.sqlite, synthetic=0, db_name=args.db_name)
        quality.append({**result, "seed": seed})
    if first_files:
        for size in args.synthetic:
            cost.append(
                run_once(f"synthetic {size}", *first_files, sqlite=args.sqlite, synthetic=size, db_name=args.db_name)
            )
    info = machine()
    (OUT / "dedup.json").write_text(json.dumps({"machine": info, "quality": quality, "cost": cost}, indent=2))
    section = results_markdown(info, quality, cost)
    print(section)
    if not args.no_docs:
        write_doc(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
