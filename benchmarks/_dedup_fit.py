"""Fit the engine's logistic weights (incidents/dedup/engine.py WEIGHTS) on dev splits.

    .venv/bin/python manage.py dedup_benchmark --history H --stream S --predictions-out P --features-out F
    .venv/bin/python benchmarks/_dedup_fit.py S:F [S2:F2 ...] [--replay S3:F3 --thresholds 0.8 0.9]

Each F line holds, for one stream report, the signals of every scored
candidate (computed before the report is matched). A candidate is a positive
when it is the history incident of the report (``h:<id>``) or an incident a
stream report of the same AIID incident created (``s:<report_id>``). Newton
iterations with a small ridge; prints the weights to paste into WEIGHTS.
``same_url`` is left out (too rare in the dev data to learn: set by hand).
Fit on the dumps of some seeds and evaluate on another (never on the split
fitted on): ``--replay`` re-scores another split's dumped candidates with the
fitted weights and replays the decisions in stream order for each auto-link
threshold (an approximation of a real run: the candidates are those the dump
run saw), printing recall@1/@5, first reports not auto-linked and B-cubed; the
real measurement is ``benchmarks/dedup.py`` with the new weights.
A helper of the dedup benchmark (the leading "_" keeps run.py from running it).
"""

import argparse
import json
import math
import sys
from collections import defaultdict
from typing import Any

import numpy as np

NAMES = [
    "text_max",
    "coverage",
    "semantic_max",
    "semantic_mean",
    "log_gap",
    "entities",
    "same_domain",
    "log_reports",
]


def load(pairs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    rows, labels = [], []
    for pair in pairs:
        stream_path, features_path = pair.split(":", 1)
        with open(stream_path, encoding="utf-8") as handle:
            stream = {r["report_id"]: r for r in map(json.loads, handle)}
        with open(features_path, encoding="utf-8") as handle:
            for line in handle:
                item = json.loads(line)
                wanted = set(item["incident_ids"])
                for key, values in item["cands"]:
                    if key is None:
                        continue
                    kind, number = key.split(":", 1)
                    if kind == "h":
                        positive = int(number) in wanted
                    else:
                        other = stream.get(int(number), {})
                        positive = bool(set(other.get("incident_ids") or []) & wanted)
                    rows.append([values[name] for name in NAMES])
                    labels.append(float(positive))
    return np.array(rows), np.array(labels)


def fit(x: np.ndarray, y: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-xb @ w))
        hessian = xb.T @ (xb * (p * (1 - p))[:, None]) + ridge * np.eye(len(w))
        w += np.linalg.solve(hessian, xb.T @ (y - p) - ridge * w)
    return w


def _positive(stream: dict[int, dict[str, Any]], key: str, wanted: set[int]) -> bool:
    kind, number = key.split(":", 1)
    if kind == "h":
        return int(number) in wanted
    return bool(set(stream.get(int(number), {}).get("incident_ids") or []) & wanted)


def replay(
    pair: str, weights: dict[str, float], auto: float, suggest: float = 0.3, *, oracle: bool = False
) -> dict[str, float]:
    """Decisions of one split's dump in stream order with ``weights``; the metrics of the benchmark.

    ``oracle``: auto-link exactly when the best candidate is right (the truth decides, not
    the threshold): the B-cubed F1 no threshold or decision rule can beat with this ranking."""
    stream_path, features_path = pair.split(":", 1)
    with open(stream_path, encoding="utf-8") as handle:
        stream = {r["report_id"]: r for r in map(json.loads, handle)}
    group: dict[str, str] = {}
    seen: dict[int, set[str]] = defaultdict(set)
    final: dict[int, str] = {}
    hits1 = hits5 = repeats = firsts = firsts_new = 0
    with open(features_path, encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            rid = item["report_id"]
            incidents = stream[rid].get("incident_ids") or [stream[rid]["incident_id"]]
            scored = []
            for key, values in item["cands"]:
                if key is None:
                    continue
                z = weights["bias"] + sum(weights[n] * values[n] for n in NAMES) + 12.0 * values.get("same_url", 0)
                scored.append((1 / (1 + math.exp(-max(min(z, 40), -40))), group.get(key, key)))
            scored.sort(key=lambda t: -t[0])
            ranked = list(dict.fromkeys(g for _p, g in scored))
            targets = set().union(*(seen[i] for i in incidents))
            auto_linked = bool(scored) and scored[0][0] >= auto
            if oracle:
                auto_linked = bool(ranked) and ranked[0] in targets
            if targets:
                repeats += 1
                hits1 += bool(targets & set(ranked[:1]))
                hits5 += bool(targets & set(ranked[:5]))
            else:
                firsts += 1
                firsts_new += not auto_linked
            final[rid] = group[f"s:{rid}"] = scored[0][1] if auto_linked else f"s:{rid}"
            for i in incidents:
                seen[i].add(final[rid])
    gold_groups: dict[int, set[int]] = defaultdict(set)
    pred_groups: dict[str, set[int]] = defaultdict(set)
    for rid, key in final.items():
        gold_groups[stream[rid]["incident_id"]].add(rid)
        pred_groups[key].add(rid)
    precision = recall = 0.0
    for rid, key in final.items():
        both = len(pred_groups[key] & gold_groups[stream[rid]["incident_id"]])
        precision += both / len(pred_groups[key])
        recall += both / len(gold_groups[stream[rid]["incident_id"]])
    precision, recall = precision / len(final), recall / len(final)
    return {
        "recall_at_1": hits1 / max(repeats, 1),
        "recall_at_5": hits5 / max(repeats, 1),
        "first_not_auto_linked": firsts_new / max(firsts, 1),
        "bcubed_precision": precision,
        "bcubed_recall": recall,
        "bcubed_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("train", nargs="+", help="STREAM:FEATURES of the splits to fit on")
    parser.add_argument("--replay", nargs="*", default=[], help="STREAM:FEATURES of held-out splits")
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.9])
    parser.add_argument("--oracle", action="store_true", help="also replay with perfect auto-link decisions")
    args = parser.parse_args()
    x, y = load(args.train)
    weights = dict(zip(["bias", *NAMES], np.round(fit(x, y), 3).tolist(), strict=True))
    print(json.dumps(weights, indent=4))
    for pair in args.replay:
        for auto in args.thresholds:
            numbers = replay(pair, weights, auto)
            print(pair, auto, " ".join(f"{k} {v:.3f}" for k, v in numbers.items()))
        if args.oracle:
            numbers = replay(pair, weights, 0.0, oracle=True)
            print(pair, "oracle", " ".join(f"{k} {v:.3f}" for k, v in numbers.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
