"""Fit the engine's three models (engine.py RANK_WEIGHTS, the decision model, the re-ranker) on dev splits.

    .venv/bin/python manage.py dedup_benchmark --history H --stream S --predictions-out P --features-out F
    .venv/bin/pip install -e '.[fit]'   # scikit-learn, for the decision model
    .venv/bin/python benchmarks/_dedup_fit.py S:F [S2:F2 ...] [--replay S3:F3 --thresholds 0.5 0.7 0.9] [--save]

Each F line holds, for one stream report, the signals of every scored
candidate (computed before the report is matched; candidate generation does not
depend on the weights, so a dump made with any weights will do). A candidate is
a positive when it is the history incident of the report (``h:<id>``) or an
incident a stream report of the same AIID incident created (``s:<report_id>``).

1. The rank model: a conditional logit (a softmax over one report's candidates)
   fitted with Newton iterations and a small ridge on the reports that have a
   positive among their candidates: it learns what puts the right incident first.
2. The decision model: gradient-boosted trees (scikit-learn's
   HistGradientBoostingClassifier, ``TREES``, monotone as ``MONOTONE`` says) over
   ``engine.decision_inputs`` of the three best-ranked candidates of every report
   (first reports included: their candidates are all negatives): how likely a
   candidate is the incident. ``--save`` writes it to
   ``engine.DECISION_MODEL_FILE``, after checking that the engine's own walk of
   the exported trees gives scikit-learn's predictions. The printed RANK_WEIGHTS
   are pasted into engine.py by hand.
3. The re-ranker: gradient-boosted trees (``RERANK_TREES``) over
   ``engine.rerank_inputs`` of the rank model's first ``engine.RERANK_TOP``
   candidates of every report with a right incident among them, fitted pointwise;
   ``--save`` writes it to ``engine.RERANK_MODEL_FILE``, checked the same way.

``same_url`` is left out of both (too rare in the dev data to learn; the engine
sets such a candidate's score to ``SAME_URL_SCORE``). ``--replay`` scores another
split's dumped candidates with ``engine.score`` and the fitted weights and
replays the decisions in stream order for each auto-link threshold (an
approximation of a real run: the candidates are those the dump run saw),
printing recall@1/@5, first reports not auto-linked and B-cubed; ``--oracle``
replays perfect auto-link decisions (the best F1 this ranking allows). The real
measurement is ``benchmarks/dedup.py`` with the new weights. A helper of the
dedup benchmark (the leading "_" keeps run.py from running it).
"""

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from incidents.dedup import benchmark, engine  # noqa: E402

RANK_NAMES = [
    "text_max",
    "coverage",
    "semantic_max",
    "semantic_2",
    "semantic_top3",
    "semantic_mean",
    "log_gap",
    "log_median_gap",
    "entities",
    "entities_differ",
    "specific_missed",
    "same_domain",
    "log_reports",
]
DECISION_TOP = 3
REPLAYED = [
    "recall_at_1",
    "recall_at_5",
    "first_not_auto_linked",
    "bcubed_precision",
    "bcubed_recall",
    "bcubed_f1",
]

Report = dict[str, Any]  # {"id", "incidents", "cands": [(key, values)]}


def _positive(stream: dict[int, dict[str, Any]], key: str, wanted: set[int]) -> bool:
    kind, number = key.split(":", 1)
    if kind == "h":
        return int(number) in wanted
    return bool(set(stream.get(int(number), {}).get("incident_ids") or []) & wanted)


def load(pair: str) -> tuple[dict[int, dict[str, Any]], list[Report]]:
    stream_path, features_path = pair.split(":", 1)
    with open(stream_path, encoding="utf-8") as handle:
        stream = {r["report_id"]: r for r in map(json.loads, handle)}
    reports = []
    with open(features_path, encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            cands = [(key, values) for key, values in item["cands"] if key is not None]
            reports.append({"id": item["report_id"], "incidents": set(item["incident_ids"]), "cands": cands})
    return stream, reports


def fit_rank(splits: list[tuple[dict[int, dict[str, Any]], list[Report]]], ridge: float = 1.0) -> dict[str, float]:
    groups = []
    for stream, reports in splits:
        for report in reports:
            labels = [_positive(stream, key, report["incidents"]) for key, _v in report["cands"]]
            if any(labels) and len(labels) > 1:
                x = np.array([[values[n] for n in RANK_NAMES] for _k, values in report["cands"]])
                groups.append((x, np.array(labels, dtype=float) / sum(labels)))

    def objective(w: np.ndarray) -> float:
        total = -0.5 * ridge * float(w @ w)
        for x, target in groups:
            z = x @ w
            total += float(target @ z) - float(z.max() + np.log(np.exp(z - z.max()).sum()))
        return total

    w = np.zeros(len(RANK_NAMES))
    current = objective(w)
    for _ in range(60):
        gradient = -ridge * w
        hessian = ridge * np.eye(len(w))
        for x, target in groups:
            z = x @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            mean = p @ x
            gradient += target @ x - mean
            hessian += (x * p[:, None]).T @ x - np.outer(mean, mean)
        step = np.linalg.solve(hessian, gradient)
        # Halve the Newton step until the likelihood improves (the softmax can be nearly separable).
        for _half in range(30):
            trial = objective(w + step)
            if trial >= current:
                break
            step /= 2
        w, current = w + step, trial
        if np.abs(step).max() < 1e-5:
            break
    return dict(zip(RANK_NAMES, np.round(w, 3).tolist(), strict=True))


def _inputs(report: Report) -> list[tuple[str, dict[str, float], float]]:
    """(key, decision inputs, rank) of a report's best-ranked candidates, as engine.score judges them."""
    judged = engine.judged([values for _k, values in report["cands"]])
    return [(report["cands"][i][0], inputs, rank) for i, inputs, rank in judged[:DECISION_TOP]]


# The decision model: gradient-boosted trees, monotone where the answer must be (a higher
# rank score, a bigger lead or more coverage never makes a candidate less likely; a report's
# most specific words missing never more likely).
TREES = {"max_iter": 200, "learning_rate": 0.05, "max_depth": 3, "l2_regularization": 1.0, "min_samples_leaf": 40}
MONOTONE = {"rank": 1, "lead": 1, "semantic_lead": 1, "coverage": 1, "specific_missed": -1}


def fit_decision(splits: list[tuple[dict[int, dict[str, Any]], list[Report]]]) -> dict[str, Any]:
    """The decision model (engine.DecisionModel's dict) fitted on the best-ranked candidates."""
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError:
        sys.exit("fitting the decision model needs scikit-learn: pip install -e '.[fit]'")
    rows, labels = [], []
    names: list[str] = []
    for stream, reports in splits:
        for report in reports:
            for key, inputs, _rank in _inputs(report):
                names = list(inputs)
                rows.append([inputs[n] for n in names])
                labels.append(float(_positive(stream, key, report["incidents"])))
    x, y = np.array(rows), np.array(labels)
    model = HistGradientBoostingClassifier(**TREES, monotonic_cst=[MONOTONE.get(n, 0) for n in names], random_state=0)
    model.fit(x, y)
    return export(model, names, x, int(TREES["max_depth"]))


# The re-ranker: trees over the rank model's first engine.RERANK_TOP candidates of each report
# with a right incident among them (engine.rerank_inputs), fitted pointwise.
RERANK_TREES = {"max_iter": 200, "learning_rate": 0.1, "max_depth": 3}


def fit_rerank(splits: list[tuple[dict[int, dict[str, Any]], list[Report]]]) -> dict[str, Any]:
    """The re-ranker (engine.DecisionModel's dict), with engine.RANK_WEIGHTS as they are now."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rows, labels = [], []
    names: list[str] = []
    for stream, reports in splits:
        for report in reports:
            values_list = [values for _k, values in report["cands"]]
            if len(values_list) < 2:
                continue
            # The engine's own order and rank scores (engine.score reranks the same way).
            judged = engine.judged(values_list)
            ranks = [0.0] * len(values_list)
            for i, _inputs, rank in judged:
                ranks[i] = rank
            top = [i for i, _inputs, _rank in judged[: engine.RERANK_TOP]]
            positive = [_positive(stream, report["cands"][i][0], report["incidents"]) for i in top]
            if not any(positive):
                continue
            for inputs, label in zip(engine.rerank_inputs(values_list, ranks, top), positive, strict=True):
                names = list(inputs)
                rows.append([inputs[n] for n in names])
                labels.append(float(label))
    x, y = np.array(rows), np.array(labels)
    model = HistGradientBoostingClassifier(**RERANK_TREES, random_state=0).fit(x, y)
    return export(model, names, x, int(RERANK_TREES["max_depth"]))


def export(model: Any, names: list[str], x: Any, depth: int) -> dict[str, Any]:
    """A fitted HistGradientBoostingClassifier as engine.DecisionModel reads it, checked against it."""
    trees = []
    for (predictor,) in model._predictors:  # one tree per iteration (two classes)
        nodes = predictor.nodes
        trees.append(
            {
                "feature": nodes["feature_idx"].tolist(),
                "threshold": nodes["num_threshold"].tolist(),
                "left": nodes["left"].tolist(),
                "right": nodes["right"].tolist(),
                "leaf": nodes["is_leaf"].astype(bool).tolist(),
                "value": nodes["value"].tolist(),
            }
        )
    fitted = {
        "names": names,
        "baseline": float(np.ravel(model._baseline_prediction)[0]),
        "depth": depth,
        "trees": trees,
        "fitted_on": len(x),
    }
    # The engine walks the exported trees itself: check it agrees with scikit-learn.
    ours = engine.DecisionModel.from_dict(fitted).raw([dict(zip(names, row, strict=True)) for row in x.tolist()])
    if not np.allclose(ours, model.decision_function(x), atol=1e-9):
        sys.exit("the exported trees do not reproduce scikit-learn's predictions")
    return fitted


def replay(
    split: tuple[dict[int, dict[str, Any]], list[Report]], auto: float, *, oracle: bool = False
) -> dict[str, float]:
    """The benchmark's metrics (``benchmark.metrics``) for one split's dump, decided in stream order.

    History incidents are those the candidates name: a multi-incident report whose other
    incident was never a candidate counts as a first report here (a miss either way)."""
    stream, reports = split
    group: dict[str, str] = {}
    seen: dict[int, set[str]] = defaultdict(set)
    history = {int(key[2:]) for report in reports for key, _v in report["cands"] if key.startswith("h:")}
    for incident_id in history:
        seen[incident_id].add(f"h:{incident_id}")
    results = []
    for report in reports:
        rid = report["id"]
        row = stream[rid]
        keys = [key for key, _v in report["cands"]]
        scored = [
            (group.get(keys[i], keys[i]), p)
            for i, p, _r in engine.score(list(enumerate(v for _k, v in report["cands"])))
        ]
        ranked = list(dict.fromkeys(key for key, _p in scored))
        auto_linked = bool(scored) and scored[0][1] >= auto
        if oracle:
            targets = set().union(*(seen[i] for i in benchmark.incident_ids(row)))
            auto_linked = bool(ranked) and ranked[0] in targets
        final = group[f"s:{rid}"] = scored[0][0] if auto_linked else f"s:{rid}"
        for i in benchmark.incident_ids(row):
            seen[i].add(final)
        results.append(
            {
                "report_id": rid,
                "row": row,
                "decision": "auto_link" if auto_linked else "new",
                "candidates": [[key, None] for key in ranked],
                "final": final,
                "ms": 0.0,
            }
        )
    rows = [{"incident_id": i, "incident_ids": [i]} for i in sorted(history)]
    numbers = benchmark.metrics(rows, results)
    return {name: numbers[name] for name in REPLAYED}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("train", nargs="+", help="STREAM:FEATURES of the splits to fit on")
    parser.add_argument("--replay", nargs="*", default=[], help="STREAM:FEATURES of held-out splits")
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.9])
    parser.add_argument("--oracle", action="store_true", help="also replay with perfect auto-link decisions")
    parser.add_argument("--current", action="store_true", help="replay with the engine's weights, fit nothing")
    parser.add_argument("--save", action="store_true", help="write the fitted decision model to the engine's file")
    args = parser.parse_args()
    train = [load(pair) for pair in args.train]
    if not args.current:
        engine.RANK_WEIGHTS = fit_rank(train)
        fitted = fit_decision(train)
        engine.DECISION_MODEL = engine.DecisionModel.from_dict(fitted)
        reranker = fit_rerank(train)
        engine.RERANK_MODEL = engine.DecisionModel.from_dict(reranker)
        if args.save:
            engine.DECISION_MODEL_FILE.write_text(json.dumps(fitted, separators=(",", ":")) + "\n", encoding="utf-8")
            engine.RERANK_MODEL_FILE.write_text(json.dumps(reranker, separators=(",", ":")) + "\n", encoding="utf-8")
            print("decision model and re-ranker written to", engine.DECISION_MODEL_FILE.parent)
    print("RANK_WEIGHTS =", json.dumps(engine.RANK_WEIGHTS, indent=4))
    print("decision model:", len(engine.DECISION_MODEL.value), "trees over", ", ".join(engine.DECISION_MODEL.names))
    print("re-ranker:", len(engine.RERANK_MODEL.value), "trees over", ", ".join(engine.RERANK_MODEL.names))
    for name, split in [*zip(args.train, train, strict=True), *((p, load(p)) for p in args.replay)]:
        tag = ("given" if args.current else "fit") if name in args.train else "held-out"
        for auto in args.thresholds:
            numbers = replay(split, auto)
            print(tag, name, auto, " ".join(f"{k} {v:.3f}" for k, v in numbers.items()))
        if args.oracle:
            numbers = replay(split, 0.0, oracle=True)
            print(tag, name, "oracle", " ".join(f"{k} {v:.3f}" for k, v in numbers.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
