"""The index follows the links: idempotent, reversible, and rebuilt to the same state."""

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from incidents.dedup import index, termset, vectors
from incidents.dedup.index_models import DedupIncident, DedupPosting, DedupTerm

from ..factories import IncidentFactory, ReportFactory, link

pytestmark = pytest.mark.django_db


def state() -> tuple[dict[str, int], set[tuple[str, int]], dict[int, list[int]]]:
    terms = dict(DedupTerm.objects.values_list("term", "df"))
    postings = set(DedupPosting.objects.values_list("term", "incident_id"))
    features = {row.incident_id: sorted(row.features["ids"]) for row in DedupIncident.objects.all()}
    return terms, postings, features


def stored_vectors() -> dict[int, bytes | None]:
    return {i: vectors.as_bytes(v) for i, v in DedupIncident.objects.values_list("incident_id", "vector")}


@pytest.fixture
def linked():
    incident = IncidentFactory.create()
    first = ReportFactory.create(title="Tesla Autopilot crash kills driver in Florida")
    second = ReportFactory.create(title="Tesla driver killed while Autopilot engaged")
    for report in (first, second):
        link(report, incident)
    return incident, first, second


def test_indexing_twice_counts_once(linked):
    incident, first, second = linked
    index.index_report(first, incident.pk)
    index.index_report(second, incident.pk)
    once = state()
    index.index_report(first, incident.pk)
    index.index_report(second, incident.pk)
    assert state() == once
    terms, postings, features = once
    assert features == {incident.pk: sorted([first.pk, second.pk])}
    assert terms["w:tesla"] == 1  # one incident, however many of its reports say it
    assert terms[index.INCIDENTS_KEY] == 1
    assert ("w:autopilot", incident.pk) in postings


def test_a_kept_report_holds_what_the_scorer_reads_and_the_incident_the_rest(linked):
    incident, first, _second = linked
    first.source_url = "https://www.example.com/tesla-autopilot-crash"
    first.save()
    index.index_report(first, incident.pk)
    features = DedupIncident.objects.get(incident_id=incident.pk).features
    (kept,) = features["reports"]
    assert set(kept) == {"id", "terms", "norm", "date", "vec"}  # no address, domain or entities
    assert kept["id"] == first.pk and "w:tesla" in kept["terms"] and kept["vec"]
    assert features["domains"] == ["example.com"]  # the address counts for the incident


def test_unindexing_removes_what_only_that_report_brought(linked):
    incident, first, second = linked
    index.index_report(first, incident.pk)
    index.index_report(second, incident.pk)
    index.unindex_report(second, incident.pk)
    terms, postings, features = state()
    assert features == {incident.pk: [first.pk]}
    assert ("w:florida", incident.pk) in postings
    assert ("p:autopilot engag", incident.pk) not in postings
    assert terms.get("p:autopilot engag", 0) == 0
    index.unindex_report(first, incident.pk)
    index.unindex_report(first, incident.pk)  # twice is harmless
    terms, postings, features = state()
    assert features == {} and postings == set()
    assert terms[index.INCIDENTS_KEY] == 0


def test_rebuild_gives_the_state_of_incremental_indexing(linked):
    incident, first, second = linked
    other = IncidentFactory.create()
    third = ReportFactory.create(title="Facial recognition misidentifies shopper")
    link(third, other)
    for report, target in ((first, incident), (second, incident), (third, other)):
        index.index_report(report, target.pk)
    incremental = state()
    incremental_vectors = stored_vectors()
    assert index.rebuild() == 3
    rebuilt = state()
    assert rebuilt[1] == incremental[1] and rebuilt[2] == incremental[2]
    assert stored_vectors() == incremental_vectors
    assert len(incremental_vectors) == 2 and all(len(v or b"") == 384 for v in incremental_vectors.values())
    assert {t: df for t, df in rebuilt[0].items() if df} == {t: df for t, df in incremental[0].items() if df}


def test_common_terms_stop_getting_postings(linked, monkeypatch):
    monkeypatch.setattr(index, "MAX_POSTINGS", 2)
    incidents = [IncidentFactory.create() for _ in range(3)]
    for incident in incidents:
        report = ReportFactory.create(title="Chatbot gave wrong advice")
        link(report, incident)
        index.index_report(report, incident.pk)
    assert DedupTerm.objects.get(term="w:chatbot").df == 3
    assert DedupPosting.objects.filter(term="w:chatbot").count() == 2


def test_recent_features_are_reused_until_the_report_changes(linked, monkeypatch):
    _incident, first, _second = linked
    calls = []
    original = index.report_features_many

    def counting(reports):
        calls.append(len(reports))
        return original(reports)

    monkeypatch.setattr(index, "report_features_many", counting)
    index._RECENT.clear()
    before = index.report_features(first)
    assert index.report_features(first) == before
    assert len(calls) == 1
    first.title = "Florida crash: Tesla Autopilot blamed"
    assert "w:blam" in index.report_features(first).terms or len(calls) == 2
    assert len(calls) == 2


def test_candidates_are_ranked_by_size_normalised_weight(linked):
    from incidents.dedup import engine

    incident, first, second = linked
    index.index_report(first, incident.pk)
    index.index_report(second, incident.pk)
    small = IncidentFactory.create()
    lone = ReportFactory.create(title="Tesla Autopilot crash")
    link(lone, small)
    index.index_report(lone, small.pk)
    # Both share "tesla", "autopilot" and "crash" with the query; the big incident has two reports.
    ranked = engine._postings({"w:tesla": 1.0, "w:autopilot": 1.0, "w:crash": 1.0}, 10)
    assert [incident_id for incident_id, _w in ranked] == [small.pk, incident.pk]


@pytest.mark.services
def test_rebuild_gives_postgresql_the_statistics_of_the_index(linked):
    """Without them PostgreSQL scans every posting for each lookup (docs/dedup.md)."""
    from django.db import connection

    assert index.rebuild() == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.reltuples FROM pg_class c WHERE c.relname = %s", [DedupPosting._meta.db_table])
        estimated = cursor.fetchone()[0]
    # ANALYZE of a small table reads every row, so the planner's estimate is the count.
    assert estimated == DedupPosting.objects.count() > 0


def test_indexing_into_an_existing_incident_reads_its_row_once(linked):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    incident, first, second = linked
    index.index_report(first, incident.pk)
    table = DedupIncident._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        index.index_report(second, incident.pk)
    reads = [
        q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT") and f'FROM "{table}"' in q["sql"]
    ]
    assert len(reads) == 1  # the row, locked; features of a big incident are costly to read twice
    assert sorted(DedupIncident.objects.get(incident_id=incident.pk).features["ids"]) == [first.pk, second.pk]


def test_a_new_incident_gets_its_row_and_its_count_in_one_statement_each(linked):
    from django.test.utils import CaptureQueriesContext

    incident, first, _second = linked
    other = IncidentFactory.create()
    report = ReportFactory.create(title="Chatbot tells a user to leave his wife")
    link(report, other)
    index.index_report(first, incident.pk)  # the count's row exists: the upsert adds to it
    with CaptureQueriesContext(connection) as queries:
        index.index_report(report, other.pk)
    sqls = [q["sql"] for q in queries]
    table = DedupIncident._meta.db_table
    on_row = [s.split()[0].upper() for s in sqls if f'"{table}"' in s]
    assert on_row == ["SELECT", "INSERT", "SELECT", "UPDATE"]  # none there; made; read locked; written
    on_count = [s.split()[0].upper() for s in sqls if index.INCIDENTS_KEY in s]
    assert on_count == ["SELECT", "INSERT"]  # read with the report's terms; one upsert
    terms, _postings, features = state()
    assert terms[index.INCIDENTS_KEY] == 2 and features[other.pk] == [report.pk]
    index.unindex_report(report, other.pk)  # a count that falls: the same row, one less
    assert state()[0][index.INCIDENTS_KEY] == 1


def test_bulk_indexing_counts_terms_and_caps_postings_like_one_by_one(linked, monkeypatch):
    monkeypatch.setattr(index, "MAX_POSTINGS", 2)
    incident, first, _second = linked
    index.index_report(first, incident.pk)  # "w:tesla" already has one posting
    others = [IncidentFactory.create() for _ in range(3)]
    links = []
    for other in others:
        report = ReportFactory.create(title="Tesla recalls cars over Autopilot")
        link(report, other)
        links.append((report, other.pk))
    assert index.index_bulk(links, batch=2) == 3  # two batches: the second embedded ahead
    terms, postings, features = state()
    assert terms["w:tesla"] == 4 and terms["w:recall"] == 3
    assert {i for t, i in postings if t == "w:tesla"} == {incident.pk, others[0].pk}
    assert {i for t, i in postings if t == "w:recall"} == {others[0].pk, others[1].pk}
    assert terms[index.INCIDENTS_KEY] == 4 and set(features) == {incident.pk, *(o.pk for o in others)}
    assert index.index_bulk(links) == 3 and state() == (terms, postings, features)  # again: no change


def test_features_are_stored_as_text_and_read_back_unchanged(linked):
    incident, first, second = linked
    for report in (first, second):
        index.index_report(report, incident.pk)
    row = DedupIncident.objects.get(incident_id=incident.pk)
    assert sorted(row.features["ids"]) == sorted([first.pk, second.pk])
    raw = DedupIncident.objects.filter(pk=incident.pk).values_list("features", flat=True).query
    with connection.cursor() as cursor:
        cursor.execute(*raw.sql_with_params())
        (stored,) = cursor.fetchone()
    # The column holds the JSON text itself, and the model gives back exactly what it wrote.
    assert isinstance(stored, str) and json.loads(stored) == row.features
    row.save()
    assert DedupIncident.objects.get(incident_id=incident.pk).features == row.features


def indexed_row() -> DedupIncident:
    """The index row of a new incident with one report, as this release writes it."""
    incident = IncidentFactory.create()
    report = ReportFactory.create(title="Chatbot tells user to eat glue on pizza")
    link(report, incident)
    index.index_report(report, incident.pk)
    return DedupIncident.objects.get(incident_id=incident.pk)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_index_written_as_jsonb_moves_to_text_unchanged():
    row = indexed_row()
    incident, expected, terms = row.incident, row.features, row.terms
    # Before 0011 the terms were a bag inside the features (its counts are lost going back).
    as_it_was = {**{k: v for k, v in expected.items() if k != "hashes"}, "bag": dict.fromkeys(terms, 1)}
    executor = MigrationExecutor(connection)
    executor.migrate([("incidents", "0009_dedup_incident_vector")])
    try:
        with connection.cursor() as cursor:
            # On PostgreSQL the column is jsonb again (SQLite keeps JSON as text either way).
            cursor.execute("SELECT features FROM incidents_dedupincident WHERE incident_id = %s", [incident.pk])
            (old,) = cursor.fetchone()
        assert json.loads(old) == as_it_was
        assert column_type() == ("jsonb" if connection.vendor == "postgresql" else "text")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert column_type() == "text"
    assert DedupIncident.objects.get(incident_id=incident.pk).features == expected


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_index_written_with_a_bag_of_terms_moves_them_to_their_column_and_hashes():
    expected = indexed_row()
    incident = expected.incident
    executor = MigrationExecutor(connection)
    executor.migrate([("incidents", "0010_dedup_features_as_text")])
    try:
        # The row as the release before wrote it: the features held a bag of the terms, each
        # with how many of the incident's reports carry it.
        old = {k: v for k, v in expected.features.items() if k != "hashes"}
        old["bag"] = dict.fromkeys(expected.terms, 2)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE incidents_dedupincident SET features = %s WHERE incident_id = %s",
                [json.dumps(old), incident.pk],
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    row = DedupIncident.objects.get(incident_id=incident.pk)
    assert row.terms == expected.terms and "w:glue" in row.terms and "bag" not in row.features
    assert row.features == expected.features
    assert termset.contains(termset.decode(row.features["hashes"]), termset.hashes(["w:glue", "w:tesla"])) == [
        True,
        False,
    ]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_column_compression(features), pg_column_compression(terms) FROM incidents_dedupincident "
                "WHERE incident_id = %s",
                [incident.pk],
            )
            # Short values are kept uncompressed (NULL): the features of one report are near the limit.
            assert set(cursor.fetchone()) <= {"lz4", None}
            cursor.execute(
                "SELECT attcompression FROM pg_attribute WHERE attrelid = 'incidents_dedupincident'::regclass "
                "AND attname IN ('features', 'terms')"
            )
            assert [c for (c,) in cursor.fetchall()] == ["l", "l"]


def column_type() -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_typeof(features)::text FROM incidents_dedupincident LIMIT 1")
        else:
            cursor.execute("SELECT typeof(features) FROM incidents_dedupincident LIMIT 1")
        return str(cursor.fetchone()[0])


def test_a_report_is_read_with_its_slug_and_embedded_with_the_slug_words_it_lacks():
    report = ReportFactory.build(
        title="YouTube Kids app is still showing disturbing videos",
        text="",
        ai_system="",
        harm="",
        canonical_url="",
        source_url="https://example.org/2018/02/moms-warn-disturbing-video-found-on-youtube-kids",
    )

    title, rest = index.report_text(report)
    assert rest == "moms warn disturbing video found youtube kids"
    # Its terms hold every slug word (stemmed), and the phrases the slug makes.
    assert {"w:mom", "w:warn", "p:youtube kid", "p:found youtube"} <= set(index.text_terms(title, rest))
    # The embedded text repeats none of the title's words: "video", "youtube" and "kids" are there.
    assert index.report_embedding_text(report) == "YouTube Kids app is still showing disturbing videos. moms warn found"
