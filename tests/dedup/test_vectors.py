"""Semantic candidates: incidents near a report in meaning, from vectors every worker shares."""

import importlib

import numpy as np
import pytest
from django.apps import apps

from incidents.dedup import embedding, engine, index, vectors
from incidents.dedup.index_models import DedupIncident
from incidents.models import Report

from ..factories import IncidentFactory, ReportFactory, link

pytestmark = pytest.mark.django_db

DEEPFAKE = "Deepfake newsreaders spread state propaganda on social media"
# The same story in other words: no index term in common with DEEPFAKE.
RETOLD = "The people onscreen are fake: computer-generated anchors read out government messages"
OTHERS = (
    "Self-driving Uber kills Arizona woman in first fatal crash involving pedestrian",
    "YouTube Kids app is still showing disturbing videos",
    "Amazon scraps secret AI recruiting tool that showed bias against women",
)


def indexed(title: str) -> tuple[int, Report]:
    incident = IncidentFactory.create()
    report = ReportFactory.create(title=title, text="")
    link(report, incident)
    index.index_report(report, incident.pk)
    return incident.pk, report


@pytest.fixture
def catalogue() -> dict[str, int]:
    ids = {title: indexed(title)[0] for title in (DEEPFAKE, *OTHERS)}
    return {"deepfake": ids[DEEPFAKE], **{f"other{n}": ids[t] for n, t in enumerate(OTHERS)}}


def query(title: str) -> index.ReportFeatures:
    return index.report_features(Report(title=title, text=""))


def test_a_repeat_in_other_words_is_a_candidate_by_meaning_alone(catalogue):
    features = query(RETOLD)
    words = set(features.terms)
    stored = DedupIncident.objects.get(incident_id=catalogue["deepfake"]).terms
    assert not words & {t for t in stored if t[:2] in ("w:", "p:")}, "the test needs a retelling in other words"
    nearest = vectors.nearest(features.vec, 2)
    assert nearest[0][0] == catalogue["deepfake"] and nearest[0][1] > nearest[1][1] + 0.1
    found = [c.incident_id for c in engine.match_features(features)]
    assert found[0] == catalogue["deepfake"]


def test_vectors_follow_indexing_without_a_reload(catalogue):
    assert vectors.nearest(query(RETOLD).vec, 1)[0][0] == catalogue["deepfake"]  # loaded now
    retold_id, retold = indexed(RETOLD)
    # A second worker process would see the row the same way: through the database.
    assert {i for i, _cos in vectors.nearest(query(RETOLD).vec, 2)} == {retold_id, catalogue["deepfake"]}
    before = dict(vectors.nearest(query(DEEPFAKE).vec, 5))[retold_id]
    second = ReportFactory.create(title=DEEPFAKE, text="")
    link(second, Report.objects.get(pk=retold.pk).links.get().incident)
    index.index_report(second, retold_id)
    after = dict(vectors.nearest(query(DEEPFAKE).vec, 5))[retold_id]
    assert after > before + 0.1  # its mean moved towards the new report
    index.unindex_report(second, retold_id)
    index.unindex_report(retold, retold_id)
    vectors.clear()  # the periodic full reload
    assert retold_id not in dict(vectors.nearest(query(RETOLD).vec, 5))


def test_report_counts_follow_indexing_like_the_vectors(catalogue):
    deepfake = catalogue["deepfake"]
    assert vectors.sizes([deepfake, catalogue["other0"], 10**9]).tolist() == [1, 1, -1]  # -1: not indexed
    second = ReportFactory.create(title=RETOLD, text="")
    link(second, Report.objects.get(links__incident_id=deepfake).links.get().incident)
    index.index_report(second, deepfake)
    assert vectors.sizes([deepfake]).tolist() == [1]  # as loaded, until the next lookup
    vectors.nearest(None, 1)  # a report with no vector brings them up to date too
    assert vectors.sizes([deepfake]).tolist() == [2]


def test_the_postings_rank_as_the_database_divided_them(catalogue):
    """The ranking ``engine._postings`` does in the process is the one SQL did (engine
    2026.12-12 before 2026-12-06): the sum over the shared terms divided by the root of
    the report count plus the prior, in double precision, best first, then by id."""
    from django.db import connection

    second = ReportFactory.create(title=OTHERS[0].replace("Arizona", "Tempe"), text="")
    link(second, Report.objects.get(links__incident_id=catalogue["other0"]).links.get().incident)
    index.index_report(second, catalogue["other0"])
    # Words of every incident, some shared by two of them, with uneven weights.
    bags = [row.terms for row in DedupIncident.objects.order_by("incident_id")]
    words = sorted({t for bag in bags for t in bag if t.startswith("w:")})
    lookup = {t: 0.3 + (n % 7) * 0.45 for n, t in enumerate(words)}
    vectors.nearest(None, 1)
    ranked = engine._postings(lookup, 10)
    values = ", ".join(["(%s, CAST(%s AS DOUBLE PRECISION))"] * len(lookup))
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH q(term, weight) AS (VALUES {values}), s AS (SELECT p.incident_id, SUM(q.weight) AS total "  # noqa: S608 - placeholders only
            "FROM q JOIN incidents_dedupposting p ON p.term = q.term GROUP BY p.incident_id) "
            "SELECT s.incident_id, s.total / SQRT(CAST(d.reports AS DOUBLE PRECISION) + %s) AS score "
            "FROM s JOIN incidents_dedupincident d ON d.incident_id = s.incident_id "
            "ORDER BY score DESC, s.incident_id LIMIT 10",
            [x for term, weight in lookup.items() for x in (term, weight)] + [engine.SIZE_PRIOR],
        )
        expected = [(incident_id, float(score)) for incident_id, score in cursor.fetchall()]
    assert len(expected) == 4 and ranked == expected  # every incident shares a word


def test_the_stored_vector_is_the_normalised_mean_of_the_reports(catalogue):
    row = DedupIncident.objects.get(incident_id=catalogue["deepfake"])
    assert vectors.as_bytes(row.vector) == vectors.to_bytes(row.features)
    assert len(vectors.as_bytes(row.vector) or b"") == 384
    assert vectors.to_bytes({}) is None


def test_the_migration_fills_the_vectors_of_an_index_built_before_it(catalogue):
    expected = dict(DedupIncident.objects.values_list("incident_id", "vector"))
    DedupIncident.objects.update(vector=None)
    migration = importlib.import_module("incidents.migrations.0009_dedup_incident_vector")
    migration.fill_vectors(apps, None)
    filled = dict(DedupIncident.objects.values_list("incident_id", "vector"))
    assert {k: vectors.as_bytes(v) for k, v in filled.items()} == {k: vectors.as_bytes(v) for k, v in expected.items()}


def test_nothing_is_near_without_a_vector(catalogue):
    assert vectors.nearest(None, 5) == []
    assert vectors.nearest(query(RETOLD).vec, 0) == []


def _matrix_of(vectors_by_id: dict[int, np.ndarray]) -> vectors._Matrix:
    m = vectors._Matrix.empty()
    for incident_id, vector in vectors_by_id.items():
        vectors._put(m, incident_id, bytes(embedding.quantise(vector).tobytes()))
    return m


def test_the_coarse_pass_finds_what_the_exact_product_finds(monkeypatch):
    # Embeddings have structure (topics); so do these: 3,000 unit vectors near a 24-dimensional
    # subspace. The coarse pass scores them in 64 dimensions, then rescores 200 exactly.
    monkeypatch.setattr(vectors, "PRESELECT", 200)
    rng = np.random.default_rng(5)
    mixing = rng.normal(size=(24, embedding.DIM))
    raw = rng.normal(size=(3000, 24)) @ mixing + 0.3 * rng.normal(size=(3000, embedding.DIM))
    unit = (raw / np.linalg.norm(raw, axis=1, keepdims=True)).astype(np.float32)
    m = _matrix_of({1000 + n: v for n, v in enumerate(unit)})
    queries = [m.rows[n] + 0.05 * rng.normal(size=embedding.DIM).astype(np.float32) for n in range(0, 3000, 150)]
    exact = [vectors._search(m, q, 20) for q in queries]
    vectors._project(m)
    assert m.basis.shape == (embedding.DIM, vectors.COARSE_DIM) and m.low.shape[0] >= m.size
    coarse = [vectors._search(m, q, 20) for q in queries]
    found = sum(len({i for i, _ in a} & {i for i, _ in b}) for a, b in zip(exact, coarse, strict=True))
    assert found / (20 * len(queries)) >= 0.97
    # What it finds it scores exactly, as the full product does.
    assert coarse[0][0] == exact[0][0]
    # A row written after the projection is projected too, and found.
    vectors._put(m, 99_999, bytes(embedding.quantise(-unit[7]).tobytes()))
    assert vectors._search(m, -m.rows[7], 1)[0][0] == 99_999


def test_a_catalogue_past_coarse_from_is_searched_through_the_projection(catalogue, monkeypatch):
    exact = vectors.nearest(query(RETOLD).vec, 3)
    monkeypatch.setattr(vectors, "COARSE_FROM", 4)
    monkeypatch.setattr(vectors, "PRESELECT", 3)
    vectors.clear()
    # Four incidents span at most four directions, all kept by a 64-dimensional projection:
    # the coarse pass keeps the three best, scored exactly.
    coarse = vectors.nearest(query(RETOLD).vec, 3)
    assert [i for i, _cos in coarse] == [i for i, _cos in exact]
    assert [cos for _i, cos in coarse] == pytest.approx([cos for _i, cos in exact], abs=1e-6)
    assert vectors._matrix.basis is not None
    retold_id, _retold = indexed(RETOLD)  # read by the next lookup, and projected
    assert vectors.nearest(query(RETOLD).vec, 1)[0][0] == retold_id


def test_cosines_are_those_of_the_nearest_search(catalogue):
    vec = query(RETOLD).vec
    nearest = dict(vectors.nearest(vec, 5))
    cosines = vectors.cosines(vec, [*catalogue.values(), 987_654])
    assert set(cosines) == set(catalogue.values())  # an incident not indexed has none
    # nearest returns only positive cosines; cosines gives every indexed incident's.
    assert {i: cosines[i] for i in nearest} == pytest.approx(nearest, abs=1e-6)
    assert max(cosines, key=cosines.__getitem__) == catalogue["deepfake"]
    assert vectors.cosines(None, list(catalogue.values())) == {}


def test_the_postings_candidates_kept_are_those_near_in_meaning_too(catalogue, monkeypatch):
    monkeypatch.setattr(engine, "MAX_SCORED", 2)
    vectors.nearest(query(RETOLD).vec, 1)  # loads the vectors
    others = [catalogue[f"other{n}"] for n in range(3)]
    # The deepfake incident last by postings score, but close in meaning to the report.
    fetched = [(others[0], 10.0), (others[1], 9.8), (others[2], 9.7), (catalogue["deepfake"], 9.0)]
    kept = engine.to_score(fetched, query(RETOLD).vec)
    assert len(kept) == 2 and catalogue["deepfake"] in kept
    # Without the semantic weight, or with room for every incident, the postings' order.
    assert engine.to_score(fetched[:2], query(RETOLD).vec) == others[:2]
    monkeypatch.setattr(engine, "PREFILTER_SEMANTIC", 0.0)
    assert engine.to_score(fetched, query(RETOLD).vec) == others[:2]
