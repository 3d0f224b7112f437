"""Match a report against the catalogue: candidates from the index, scored by signals.

1. The report's features (``index.report_features``): words and phrases, the
   entities it names, its canonical address, date and embedding.
2. Candidates: incidents sharing its rarest terms (one grouped query on the
   postings, at most ``index.MAX_POSTINGS`` rows per term and ``POSTINGS_BUDGET``
   in all), plus incidents with a report at the same canonical address (one
   indexed query), plus the
   ``SEMANTIC_CANDIDATES`` incidents nearest in meaning (``vectors``: the cosine
   with each incident's mean embedding), which find repeats written in other words.
3. Each of at most ``MAX_SCORED`` candidates (from the postings, the best by postings score
   and closeness to the incident's mean vector, ``to_score``) is scored from the features stored
   for it (one query for all): text similarity (idf-weighted cosine), semantic
   similarity, date gaps, shared entities, same address, same publisher. A
   rank model orders the candidates and a re-ranker reorders its first
   ``RERANK_TOP``; a decision model turns each candidate's
   rank score, its lead over the best other one and its signals into a
   probability, so the thresholds in settings read as "how sure". All three
   were fitted on the dev data (``benchmarks/_dedup_fit.py``).

Moderators' "not a duplicate" verdicts come in as ``exclude_incident_ids``
and are never returned. See docs/dedup.md.
"""

import datetime
import json
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection

from incidents.models import Incident, PairVerdict, Report, ReportIncidentLink

from . import candidates, embedding, index, termset, vectors
from .candidates import IncidentFeatures
from .index_models import DedupPosting
from .text import phrase_text

ENGINE_VERSION = "2026.12-12"
MAX_CANDIDATES = 10
# Incidents fetched from the postings, and scored in Python.
MAX_FETCHED = 200
# 50 was tried: the same on seed 3, recall@5 0.931 instead of 0.939 on seed 4, no clear p95 gain.
MAX_SCORED = 100
# Incidents nearest the report in meaning, scored as well as the lexical ones (docs/dedup.md,
# "Semantic candidates and the re-ranker": on fitting seed 1, truth-linked, a right incident
# among the scored candidates for 616 of the 652 repeats without them, 625 with them).
SEMANTIC_CANDIDATES = 20
# Which MAX_SCORED of the MAX_FETCHED incidents from the postings are scored: the best by postings
# score (scaled to the best one's) plus this times the cosine of the report's embedding with the
# incident's mean vector, which every process holds (``vectors.cosines``; engine 2026.12-10: 0.5,
# the postings score alone before; docs/dedup.md, "Which fetched incidents are scored").
PREFILTER_SEMANTIC = 0.5
# Rarest terms of the report used to look up candidates.
MAX_LOOKUP_TERMS = 40
# Postings a lookup reads at most: the rarest terms are taken until their document frequencies
# would add up to more. A lookup's cost is the postings it groups, and common words grow with
# the catalogue: a mean of 462 a lookup at 3.3 k reports, about 5,220 at 100 k, 13,300 at 1 M
# (docs/dedup.md, "A million reports"). The terms left out are the commonest, weighted least.
# 2,000 since engine 2026.12-9: at 1 M it halves the postings query against 5,000 with the
# same recall@1; at 3.3 k no lookup reaches it (at most 1,000).
POSTINGS_BUDGET = 2_000
# Added to an incident's report count in the candidate ranking's length normalisation.
SIZE_PRIOR = 1.0

# Two stages, both fitted by benchmarks/_dedup_fit.py on the signals `dedup_benchmark --features-out`
# dumps on dev splits by incident (seeds 1 and 2: a truth-linked and an on-policy run of each; see
# docs/dedup.md, "Fitting the weights"), and evaluated on seeds 3 and 4, never fitted on.
#
# 1. RANK_WEIGHTS order the candidates of one report: a conditional logit (softmax over the
#    candidates, fitted to put the right incident first), so only differences between
#    candidates count and it has no bias.
RANK_WEIGHTS: dict[str, float] = {
    "text_max": -2.037,
    "coverage": -0.338,
    "semantic_max": 2.571,
    "semantic_2": 1.868,
    "semantic_top3": 3.642,
    "semantic_mean": 2.684,
    "log_gap": -0.29,
    "log_median_gap": -0.487,
    "entities": 0.188,
    "entities_differ": -1.563,
    "specific_missed": -1.965,
    "same_domain": 0.414,
    "log_reports": -0.941,
}
# 2. The decision model turns a candidate's rank score, its lead over the best other
#    candidate and its own signals (``decision_inputs``) into the probability that it is the
#    report's incident: the score moderators see and the thresholds in settings compare
#    against. Gradient-boosted trees of depth 3 (fitted with scikit-learn's
#    HistGradientBoostingClassifier, monotone in the rank score, the leads and the coverage),
#    stored in DECISION_MODEL_FILE and evaluated here with numpy (engine 2026.12-3; a logistic
#    model before, which could not weigh one input differently in different company).
DECISION_MODEL_FILE = Path(__file__).resolve().parent / "data" / "decision_model.json"
# 3. The re-ranker reorders the rank model's first RERANK_TOP candidates: gradient-boosted
#    trees over each one's signals and how it stands against the others there
#    (``rerank_inputs``), fitted pointwise on those candidates (engine 2026.12-4). A linear
#    rank model weighs a signal the same whatever the rest; the trees need not. Measured in
#    docs/dedup.md ("Semantic candidates and the re-ranker").
RERANK_TOP = 20
RERANK_MODEL_FILE = Path(__file__).resolve().parent / "data" / "rerank_model.json"


@dataclass(frozen=True)
class DecisionModel:
    """Gradient-boosted trees over named inputs: every tree's nodes in padded arrays."""

    names: list[str]
    baseline: float
    feature: Any  # (trees, nodes) arrays: the input a node splits on, its threshold,
    threshold: Any  # its children, whether it is a leaf, and a leaf's value
    left: Any
    right: Any
    leaf: Any
    value: Any
    depth: int

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DecisionModel":
        trees = data["trees"]
        width = max(len(tree["value"]) for tree in trees)

        def padded(key: str, dtype: Any) -> Any:
            out = np.zeros((len(trees), width), dtype=dtype)
            for row, tree in enumerate(trees):
                out[row, : len(tree[key])] = tree[key]
            return out

        return cls(
            names=list(data["names"]),
            baseline=float(data["baseline"]),
            feature=padded("feature", np.int64),
            threshold=padded("threshold", np.float64),
            left=padded("left", np.int64),
            right=padded("right", np.int64),
            leaf=padded("leaf", bool),
            value=padded("value", np.float64),
            depth=int(data["depth"]),
        )

    @classmethod
    def load(cls, path: Path) -> "DecisionModel":
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def raw(self, rows: list[dict[str, float]]) -> Any:
        """The log-odds of each row: every tree walked for every row at once."""
        x = np.array([[row[name] for name in self.names] for row in rows], dtype=np.float64)
        trees = np.arange(self.feature.shape[0])[:, None]
        columns = np.arange(len(rows))[None, :]
        node = np.zeros((self.feature.shape[0], len(rows)), dtype=np.int64)
        for _level in range(self.depth):
            go_left = x[columns, self.feature[trees, node]] <= self.threshold[trees, node]
            step = np.where(go_left, self.left[trees, node], self.right[trees, node])
            node = np.where(self.leaf[trees, node], node, step)
        return self.baseline + self.value[trees, node].sum(axis=0)

    def probabilities(self, rows: list[dict[str, float]]) -> list[float]:
        if not rows:
            return []
        z = np.clip(self.raw(rows), -40.0, 40.0)
        return [float(p) for p in 1.0 / (1.0 + np.exp(-z))]


DECISION_MODEL = DecisionModel.load(DECISION_MODEL_FILE)
RERANK_MODEL = DecisionModel.load(RERANK_MODEL_FILE)
# The same article is certain (the dev data has too few such pairs to learn it).
SAME_URL_SCORE = 0.995
# Signals of a candidate that shares nothing: the rival of a report's only candidate.
NOBODY: dict[str, float] = {
    "text_max": 0.0,
    "coverage": 0.0,
    "semantic_max": 0.0,
    "semantic_2": 0.0,
    "semantic_top3": 0.0,
    "semantic_mean": 0.0,
    "log_gap": math.log1p(365),
    "log_median_gap": math.log1p(365),
    "entities": 0.0,
    "entities_differ": 0.0,
    "specific_missed": 1.0,
    "same_url": 0.0,
    "same_domain": 0.0,
    "log_reports": math.log1p(1),
}


@dataclass(frozen=True)
class Candidate:
    incident_id: int
    score: float
    reasons: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    candidates: list[Candidate]
    decision: str


def decide(score: float | None) -> str:
    if score is not None and score >= settings.DEDUP_AUTO_LINK_THRESHOLD:
        return "auto_link"
    if score is not None and score >= settings.DEDUP_SUGGEST_THRESHOLD:
        return "suggest"
    return "new"


def _gap(day: datetime.date | None, incident: IncidentFeatures) -> int | None:
    """Days between ``day`` and the span of the incident's report dates (0 inside it)."""
    first, last = incident.first, incident.last
    if day is None or first is None or last is None:
        return None
    if first <= day <= last:
        return 0
    return min(abs((day - first).days), abs((day - last).days))


@dataclass(frozen=True)
class Probe:
    """The report's side of every candidate's signals, worked out once per match."""

    query: index.ReportFeatures
    idfs: dict[str, float]
    qnorm: float
    weights: dict[str, float]  # idf squared of each of the report's terms
    specific: list[str]  # its three most specific words (highest idf)
    hashes: Any  # the hashes of its terms, in their order (``termset``)
    specific_at: list[int]  # where each of ``specific`` is in the terms
    specific_weight: float
    vec: Any  # its embedding, decoded, or None
    day: datetime.date | None

    @classmethod
    def of(cls, query: index.ReportFeatures, idfs: dict[str, float]) -> "Probe":
        # Everything here and in ``signals`` walks the report's terms in their order, never a
        # set's: a set of strings iterates in an order that changes from process to process
        # (hash randomisation), and with it which of equally rare words count as the most
        # specific and the last bits of every sum.
        weights = {t: idfs.get(t, 1.0) ** 2 for t in query.terms}
        # A look-alike incident shares the topic but not the names and places.
        specific = sorted((t for t in query.terms if t.startswith("w:")), key=lambda t: -idfs.get(t, 1.0))[:3]
        return cls(
            query=query,
            idfs=idfs,
            qnorm=math.sqrt(sum(idfs.get(t, 1.0) ** 2 for t in query.terms)) or 1.0,
            weights=weights,
            specific=specific,
            hashes=termset.hashes(query.terms),
            specific_at=[query.terms.index(t) for t in specific],
            specific_weight=sum(weights[t] for t in specific),
            vec=embedding.decode(query.vec) if query.vec else None,
            day=datetime.date.fromisoformat(query.date) if query.date else None,
        )


def signals(probe: Probe, incident: IncidentFeatures, *, same_url: bool) -> tuple[dict[str, float], dict[str, Any]]:
    """The model's inputs for one candidate, and the reasons a moderator reads."""
    query, idfs, qnorm, weights = probe.query, probe.idfs, probe.qnorm, probe.weights
    best_text, best_stored = 0.0, None
    for stored in incident.reports:
        if stored.id == query.id:
            continue
        similarity = sum(weights[t] for t in stored.terms if t in weights) / (qnorm * stored.norm)
        if similarity > best_text:
            best_text, best_stored = similarity, stored
    best_shared = [t for t in best_stored.terms if t in weights] if best_stored is not None else []
    used = termset.contains(incident.hashes, probe.hashes)  # by the incident, each of the report's terms
    covered = [t for t, hit in zip(query.terms, used, strict=True) if hit]
    specific_missed = sum(weights[t] for t, at in zip(probe.specific, probe.specific_at, strict=True) if not used[at])
    coverage = sum(weights[t] for t in covered) / (qnorm**2)
    semantic: list[float] = []
    semantic_mean: float | None = None
    if probe.vec is not None:
        q = probe.vec
        vecs = incident.vecs
        if vecs is not None and query.id is not None and query.id in incident.vec_ids:
            vecs = vecs[[i != query.id for i in incident.vec_ids]] if len(incident.vec_ids) > 1 else None
        if vecs is not None:
            semantic = sorted((float(x) for x in vecs @ q), reverse=True)
        if incident.mean is not None:
            semantic_mean = float(incident.mean @ q)
    day = probe.day
    gap = _gap(day, incident)
    # The median gap to the stored reports: a burst of coverage is one incident, a report
    # years after most of an incident's coverage is more often another one.
    stored_days = [s.date for s in incident.reports if s.id != query.id]
    days = sorted(abs((day - d).days) for d in stored_days if d and day)
    median_gap = days[len(days) // 2] if days else None
    entity_names = incident.entities
    shared_entities = [name for eid, name in entity_names.items() if int(eid) in query.entities]
    domains = incident.domains
    top = semantic[:3]
    values = {
        "text_max": min(best_text, 1.0),
        "coverage": min(coverage, 1.0),
        "semantic_max": top[0] if top else 0.0,
        # The second best and the mean of the best three: one look-alike report is weaker
        # evidence than several.
        "semantic_2": top[1] if len(top) > 1 else (top[0] if top else 0.0),
        "semantic_top3": sum(top) / len(top) if top else 0.0,
        "semantic_mean": semantic_mean if semantic_mean is not None else 0.0,
        "log_gap": math.log1p(gap) if gap is not None else math.log1p(365),
        "log_median_gap": math.log1p(median_gap) if median_gap is not None else math.log1p(365),
        "entities": float(min(len(shared_entities), 2)),
        # Both name known entities, and none of them the same: often two incidents.
        "entities_differ": 1.0 if query.entities and entity_names and not shared_entities else 0.0,
        "specific_missed": specific_missed / probe.specific_weight if probe.specific_weight else 0.0,
        "same_url": 1.0 if same_url else 0.0,
        "same_domain": 1.0 if query.domain and query.domain in domains else 0.0,
        "log_reports": math.log1p(incident.size),
    }
    semantic_max = top[0] if top else None
    phrases = sorted((t for t in best_shared if t.startswith("p:")), key=lambda t: -idfs.get(t, 1.0))
    words = sorted((t for t in best_shared if t.startswith("w:")), key=lambda t: -idfs.get(t, 1.0))
    reasons = {
        "same_url": same_url,
        "shared_entities": sorted(shared_entities),
        "matching_phrases": [phrase_text(t) for t in (phrases + words)[:6]],
        "date_gap_days": gap,
        "text": round(values["text_max"], 3),
        "semantic": round(semantic_max, 3) if semantic_max is not None else None,
    }
    return values, reasons


def rank_score(values: dict[str, float]) -> float:
    return sum(RANK_WEIGHTS.get(name, 0.0) * value for name, value in values.items())


def decision_inputs(
    values: dict[str, float], rank: float, rival_rank: float, rival_semantic: float
) -> dict[str, float]:
    """What the decision model reads of one candidate, next to the best other candidate."""
    near = 1.0 if values["log_gap"] < 3.0 else 0.0  # within about three weeks of the incident's reports
    return {
        "rank": rank,
        "lead": rank - rival_rank,
        "semantic_max": values["semantic_max"],
        "semantic_lead": values["semantic_max"] - rival_semantic,
        "coverage": values["coverage"],
        "text_max": values["text_max"],
        "log_gap": values["log_gap"],
        "log_median_gap": values["log_median_gap"],
        "entities": values["entities"],
        "log_reports": values["log_reports"],
        "near": near,
        "semantic_near": values["semantic_max"] * near,
        "coverage_near": values["coverage"] * near,
        "semantic_coverage": values["semantic_max"] * values["coverage"],
        "specific_missed": values["specific_missed"],
    }


def judged(values_list: list[dict[str, float]]) -> list[tuple[int, dict[str, float], float]]:
    """(position, decision inputs, rank score) of each candidate, best-ranked first.

    Each candidate is judged against the best of the others (the runner-up for the
    leader, the leader for the rest; a candidate sharing nothing when it is alone).
    ``score`` uses it, and so does benchmarks/_dedup_fit.py to fit the decision model."""
    ranks = [rank_score(values) for values in values_list]
    order = sorted(range(len(ranks)), key=lambda i: -ranks[i])
    nobody = rank_score(NOBODY)
    out = []
    for position, i in enumerate(order):
        rival = order[0] if position else (order[1] if len(order) > 1 else None)
        rival_rank = max(ranks[rival], nobody) if rival is not None else nobody
        rival_semantic = values_list[rival]["semantic_max"] if rival is not None else 0.0
        out.append((i, decision_inputs(values_list[i], ranks[i], rival_rank, rival_semantic), ranks[i]))
    return out


def rerank_inputs(values_list: list[dict[str, float]], ranks: list[float], top: list[int]) -> list[dict[str, float]]:
    """What the re-ranker reads of each of the ``top`` candidates (indices, best-ranked first)."""
    best = ranks[top[0]]
    second = max(ranks[top[1]], rank_score(NOBODY)) if len(top) > 1 else rank_score(NOBODY)
    best_semantic = max(values_list[i]["semantic_max"] for i in top)
    best_coverage = max(values_list[i]["coverage"] for i in top)
    out = []
    for position, i in enumerate(top):
        values = values_list[i]
        row = {name: values[name] for name in RANK_WEIGHTS}
        row.update(
            rank=ranks[i],
            rank_gap=ranks[i] - best,
            position=float(position),
            semantic_gap=values["semantic_max"] - best_semantic,
            coverage_gap=values["coverage"] - best_coverage,
            leader_margin=best - second,
        )
        out.append(row)
    return out


def reranked(values_list: list[dict[str, float]], ranks: list[float], order: list[int]) -> list[int]:
    """``order`` (best-ranked first) with its first ``RERANK_TOP`` reordered by the re-ranker."""
    top = order[:RERANK_TOP]
    if len(top) < 2:
        return order
    z = RERANK_MODEL.raw(rerank_inputs(values_list, ranks, top))
    # Stable: equal scores keep the rank model's order.
    return [top[j] for j in sorted(range(len(top)), key=lambda j: -z[j])] + order[RERANK_TOP:]


def score(scored: list[tuple[int, dict[str, float]]], limit: int | None = None) -> list[tuple[int, float, float]]:
    """(incident id, probability, rank score) of each candidate, best first; of the first
    ``limit`` only, when given (the decision model then judges those alone: the same numbers).

    The order is the re-ranker's over the rank model's first ``RERANK_TOP`` (a report at
    the same address first); the probability is the decision model's, judged in the rank
    model's order, and each is capped at the one above it, so the list reads best first by
    both: a report is auto-linked only when the re-ranker's first choice is sure. Ordering
    by the decision model's probability was measured: it was fitted on the three
    best-ranked candidates only, and recall@1 and @5 fell by 0.01-0.03."""
    values_list = [values for _id, values in scored]
    rows = judged(values_list)
    inputs_of = {i: inputs for i, inputs, _rank in rows}
    ranks = [0.0] * len(values_list)
    for i, _inputs, rank in rows:
        ranks[i] = rank
    order = reranked(values_list, ranks, [i for i, _inputs, _rank in rows])
    # Stable: the rank order within each group, a report at the same address first.
    order.sort(key=lambda i: not values_list[i]["same_url"])
    order = order[:limit] if limit is not None else order
    probabilities = DECISION_MODEL.probabilities([inputs_of[i] for i in order])
    out = []
    ceiling = 1.0
    for i, p in zip(order, probabilities, strict=True):
        incident_id, values = scored[i]
        ceiling = min(max(p, SAME_URL_SCORE) if values["same_url"] else p, ceiling)
        out.append((incident_id, ceiling, ranks[i]))
    return out


def _postings(lookup: dict[str, float], limit: int) -> list[tuple[int, float]]:
    """Incidents sharing the lookup terms, best first: one query.

    The summed weight of the shared terms is divided by the square root of the
    incident's number of reports (a cosine-like length normalisation): the union
    of a big incident's terms shares something with everything, and ranking by
    the raw sum kept small true incidents out of the scored candidates.

    The terms and their weights are a VALUES list joined to the postings through
    their (term, incident) key, summed per incident in double precision (engine
    2026.12-6; a CASE over the 40 terms before, summed as numeric: at 100 k reports
    16.7-21.7 ms a query against 9.0-9.9 ms, with the same candidates). The sums are
    divided and ranked here, by the report counts each process holds beside the
    vectors (``vectors.sizes``), in the same double precision and order as SQL did
    (best first, then by incident id): read in SQL by each grouped incident's key,
    up to 2,000 of them per lookup, the counts were about half of the query's time
    at a million reports (docs/dedup.md, "The postings' ranking in the process")."""
    if not lookup:
        return []
    terms = list(lookup)
    postings = connection.ops.quote_name(DedupPosting._meta.db_table)
    values = ", ".join(["(%s, CAST(%s AS DOUBLE PRECISION))"] * len(terms))
    sql = (
        f"WITH q(term, weight) AS (VALUES {values}) "  # noqa: S608 - names are ours, values are parameters
        f"SELECT p.incident_id, SUM(q.weight) FROM q JOIN {postings} p ON p.term = q.term GROUP BY p.incident_id"
    )
    params: list[Any] = []
    for term in terms:
        params += [term, lookup[term]]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        totals = cursor.fetchall()
    if not totals:
        return []
    ids = np.array([incident_id for incident_id, _total in totals], dtype=np.int64)
    sums = np.array([total for _incident_id, total in totals], dtype=np.float64)
    sizes = vectors.sizes(ids)
    known = sizes >= 0
    ids, scores = ids[known], sums[known] / np.sqrt(sizes[known] + SIZE_PRIOR)
    best = np.lexsort((ids, -scores))[:limit]  # best first, then by incident id
    return list(zip(ids[best].tolist(), scores[best].tolist(), strict=True))


def _same_url_incidents(query: index.ReportFeatures) -> set[int]:
    if not query.url:
        return set()
    links = ReportIncidentLink.objects.filter(report__canonical_url=query.url)
    if query.id is not None:
        links = links.exclude(report_id=query.id)
    return set(links.order_by("incident_id").values_list("incident_id", flat=True)[:20])


def lookup_terms(terms: Collection[str], dfs: dict[str, int], idfs: dict[str, float]) -> dict[str, float]:
    """The terms to look up candidates by, with their weights: the rarest that have postings,
    at most ``MAX_LOOKUP_TERMS`` of them and ``POSTINGS_BUDGET`` postings in all."""
    usable = sorted((t for t in terms if 0 < dfs.get(t, 0) <= index.MAX_POSTINGS), key=lambda t: dfs[t])
    lookup: dict[str, float] = {}
    read = 0
    for t in usable[:MAX_LOOKUP_TERMS]:
        read += dfs[t]
        if lookup and read > POSTINGS_BUDGET:
            break
        # Meaning buckets count for less than a shared word: they are coarse.
        lookup[t] = idfs[t] * (0.3 if t.startswith("v:") else 1.0)
    return lookup


def to_score(fetched: list[tuple[int, float]], vec: str | None) -> list[int]:
    """The ``MAX_SCORED`` of the incidents from the postings (id, postings score; best first) to
    score: by postings score scaled to the best, plus ``PREFILTER_SEMANTIC`` times the cosine of
    ``vec`` with the incident's mean vector (after ``vectors.nearest``, which loads them). A
    stable sort: equal keys keep the postings' order."""
    if len(fetched) <= MAX_SCORED or not PREFILTER_SEMANTIC:
        return [i for i, _w in fetched[:MAX_SCORED]]
    cosines = vectors.cosines(vec, [i for i, _w in fetched])
    best = fetched[0][1] or 1.0
    order = sorted(fetched, key=lambda iw: -(iw[1] / best + PREFILTER_SEMANTIC * cosines.get(iw[0], 0.0)))
    return [i for i, _w in order[:MAX_SCORED]]


def candidate_signals(
    query: index.ReportFeatures, *, exclude_incident_ids: Collection[int] = ()
) -> list[tuple[int, dict[str, float], dict[str, Any]]]:
    """(incident id, signals, reasons) of every candidate to score for a report's features,
    in the order they were found (``score`` ranks them)."""
    all_terms = query.index_terms()
    dfs = index.term_dfs([*all_terms, index.INCIDENTS_KEY])
    incidents = max(dfs.pop(index.INCIDENTS_KEY, 0), 1)
    idfs = {t: index.idf(dfs.get(t, 0), incidents) for t in all_terms}
    probe = Probe.of(query, idfs)
    lookup = lookup_terms(all_terms, dfs, idfs)
    excluded = set(exclude_incident_ids)
    # First: it brings the vectors and the report counts that ``_postings`` ranks by up to date.
    near = [i for i, _cos in vectors.nearest(query.vec, SEMANTIC_CANDIDATES + len(excluded)) if i not in excluded]
    fetched = [(i, w) for i, w in _postings(lookup, MAX_FETCHED) if i not in excluded]
    same_url = _same_url_incidents(query) - excluded
    kept = to_score(fetched, query.vec)
    wanted = list(dict.fromkeys([*sorted(same_url), *near[:SEMANTIC_CANDIDATES], *kept]))
    found = candidates.features(wanted)
    # In the order above, not the database's: equal scores keep it, so runs repeat exactly.
    return [(i, *signals(probe, found[i], same_url=i in same_url)) for i in wanted if i in found]


def match_features(
    query: index.ReportFeatures, *, exclude_incident_ids: Collection[int] = (), limit: int = MAX_CANDIDATES
) -> list[Candidate]:
    """Scored candidates for a report's features, best first."""
    found = candidate_signals(query, exclude_incident_ids=exclude_incident_ids)
    reasons_of = {incident_id: reasons for incident_id, _values, reasons in found}
    return [
        Candidate(incident_id=incident_id, score=round(p, 4), reasons=reasons_of[incident_id])
        for incident_id, p, _rank in score([(incident_id, values) for incident_id, values, _reasons in found], limit)
    ]


def match_report(report: Report, *, exclude_incident_ids: Collection[int] = ()) -> Match:
    """The incidents ``report`` may describe, best first, and what to do about it: never one it
    is linked to already, nor one a moderator said it is not (the pair memory)."""
    own = ReportIncidentLink.objects.filter(report=report).values_list("incident_id", flat=True)
    different = PairVerdict.objects.filter(report=report, verdict=PairVerdict.Verdict.DIFFERENT)
    excluded = {*exclude_incident_ids, *own.union(different.values_list("incident_id", flat=True))}  # one query
    candidates = match_features(index.report_features(report), exclude_incident_ids=excluded)
    return Match(candidates=candidates, decision=decide(candidates[0].score if candidates else None))


def similar_published(title: str, text: str, limit: int = 3) -> list[tuple[Incident, float]]:
    """Published incidents that look like the one being typed in (the public form's hint)."""
    if not (title or "").strip() and not (text or "").strip():
        return []
    report = Report(title=title or "", text=text or "")
    candidates = match_features(index.report_features(report), limit=MAX_CANDIDATES)
    # A typed description has no date, URL or publisher, so it scores lower than a news
    # report would: the hint has its own, lower bar.
    wanted = [c for c in candidates if c.score >= settings.DEDUP_HINT_THRESHOLD]
    published = Incident.objects.filter(pk__in=[c.incident_id for c in wanted], status=Incident.Status.PUBLISHED)
    by_id = {incident.pk: incident for incident in published}
    return [(by_id[c.incident_id], c.score) for c in wanted if c.incident_id in by_id][:limit]
