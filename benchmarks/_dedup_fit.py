"""Fit the engine's logistic weights (incidents/dedup/engine.py WEIGHTS) on dev splits.

    .venv/bin/python manage.py dedup_benchmark --history H --stream S --predictions-out P --features-out F
    .venv/bin/python benchmarks/_dedup_fit.py S:F [S2:F2 ...]

Each F line holds, for one stream report, the signals of every scored
candidate (computed before the report is matched). A candidate is a positive
when it is the history incident of the report (``h:<id>``) or an incident a
stream report of the same AIID incident created (``s:<report_id>``). Newton
iterations with a small ridge; prints the weights to paste into WEIGHTS.
``same_url`` is left out (too rare in the dev data to learn: set by hand).
Fit on the dumps of some seeds and evaluate on another (never on the split
fitted on): ``benchmarks/dedup.py --seeds`` with the new weights.
A helper of the dedup benchmark (the leading "_" keeps run.py from running it).
"""

import json
import sys

import numpy as np

NAMES = [
    "text_max",
    "coverage",
    "semantic_max",
    "semantic_mean",
    "log_gap",
    "entities",
    "same_domain",
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


def main() -> int:
    x, y = load(sys.argv[1:])
    weights = fit(x, y)
    print(json.dumps(dict(zip(["bias", *NAMES], np.round(weights, 3).tolist(), strict=True)), indent=4))
    return 0


if __name__ == "__main__":
    sys.exit(main())
