"""The candidates' features each process keeps: read again whenever the database's row changed."""

import datetime

import pytest
from django.db import connection

from incidents.dedup import candidates, engine, index
from incidents.models import Incident, Report

from ..factories import IncidentFactory, ReportFactory, link

pytestmark = pytest.mark.django_db

TITLES = (
    "Self-driving Uber kills Arizona woman in first fatal crash involving pedestrian",
    "YouTube Kids app is still showing disturbing videos",
    "Amazon scraps secret AI recruiting tool that showed bias against women",
)


def indexed(incident: Incident, title: str, day: datetime.date) -> Report:
    report = ReportFactory.create(title=title, text="", date_published=day)
    link(report, incident)
    index.index_report(report, incident.pk)
    return report


@pytest.fixture
def catalogue() -> list[Incident]:
    incidents = []
    for n, title in enumerate(TITLES):
        incident = IncidentFactory.create()
        indexed(incident, title, datetime.date(2018, 3, 1 + n))
        incidents.append(incident)
    return incidents


def ids(incidents: list[Incident]) -> list[int]:
    return [incident.pk for incident in incidents]


def queries(on_postgresql: int, elsewhere: int) -> int:
    return on_postgresql if connection.vendor == "postgresql" else elsewhere


def test_unchanged_incidents_are_not_read_again(catalogue, django_assert_num_queries):
    # On PostgreSQL one query compares the stamps and sends the rows never seen; elsewhere
    # the stamps, then those rows.
    with django_assert_num_queries(queries(1, 2)):
        first = candidates.features(ids(catalogue))
    with django_assert_num_queries(1):  # the stamps: no row is sent
        again = candidates.features(ids(catalogue))
    assert set(again) == set(ids(catalogue))
    assert all(again[i] is first[i] for i in again)
    assert candidates.read_share() == 0.5  # three read of six returned


def test_an_incident_that_gained_a_report_is_read_again(catalogue, django_assert_num_queries):
    uber, kids, _bias = catalogue
    before = candidates.features(ids(catalogue))
    assert before[uber.pk].size == 1
    indexed(uber, "Uber halts self-driving tests after a pedestrian is killed in Tempe", datetime.date(2018, 3, 20))
    with django_assert_num_queries(queries(1, 2)):  # the one row that changed is sent
        after = candidates.features(ids(catalogue))
    assert after[uber.pk].size == 2 and len(after[uber.pk].reports) == 2
    assert after[uber.pk].last == datetime.date(2018, 3, 20)
    assert after[kids.pk] is before[kids.pk]
    assert candidates.read_share() == 4 / 6  # three, then the one that changed
    # Kept as read: the next call sends nothing.
    with django_assert_num_queries(1):
        assert candidates.features(ids(catalogue))[uber.pk] is after[uber.pk]
    assert candidates.read_share() == 4 / 9


def test_only_the_rows_that_changed_are_sent(catalogue):
    """What the database sends back: a stamp for every candidate, the features only where
    the kept copy is not the stored one."""
    uber, kids, bias = catalogue
    candidates.features([uber.pk, kids.pk])
    indexed(uber, "Uber halts self-driving tests after a pedestrian is killed in Tempe", datetime.date(2018, 3, 20))
    kept = {i: entry[0] for i, entry in candidates._kept.rows.items()}
    rows = {i: data for i, _stamp, data in candidates._rows(ids(catalogue), kept)}
    sent = {i: len(data["ids"]) for i, data in rows.items() if data is not None}
    assert rows[kids.pk] is None
    assert sent == {uber.pk: 2, bias.pk: 1}  # the one that gained a report, the one never seen


def test_scores_from_kept_features_equal_scores_read_afresh(catalogue):
    uber = catalogue[0]
    query = index.report_features(Report(title="Uber self-driving car kills a woman crossing the street", text=""))
    engine.match_features(query)  # keeps every candidate
    indexed(uber, "Arizona police release video of the fatal Uber crash", datetime.date(2018, 3, 21))
    kept = engine.match_features(query)
    candidates.clear()
    afresh = engine.match_features(query)
    assert kept == afresh
    assert kept[0].incident_id == uber.pk


def test_incidents_that_left_the_index_are_not_returned(catalogue):
    uber, kids, _bias = catalogue
    candidates.features(ids(catalogue))
    report = Report.objects.get(links__incident=kids)
    index.unindex_report(report, kids.pk)
    Incident.objects.filter(pk=uber.pk).update(status=Incident.Status.MERGED)
    assert set(candidates.features(ids(catalogue))) == {catalogue[2].pk}


def test_a_report_is_not_compared_with_itself(catalogue):
    uber = catalogue[0]
    own = index.report_features(Report.objects.get(links__incident=uber))
    features = candidates.features([uber.pk])[uber.pk]
    values, _reasons = engine.signals(engine.Probe.of(own, {}), features, same_url=False)
    # Its only report is the query itself: no report to be similar to, only the incident's mean.
    assert values["text_max"] == 0.0 and values["semantic_max"] == 0.0
    assert values["semantic_mean"] > 0.99


def test_at_most_kept_incidents_are_kept(catalogue, monkeypatch):
    monkeypatch.setattr(candidates, "KEPT", 2)
    for incident in catalogue:
        candidates.features([incident.pk])
    # The least recently used went first.
    assert list(candidates._kept.rows) == ids(catalogue[1:])


def test_kept_features_hold_the_embeddings_as_stored_and_decode_them_unchanged(catalogue):
    import numpy as np

    from incidents.dedup import embedding
    from incidents.dedup.index_models import DedupIncident

    uber = catalogue[0]
    indexed(uber, "Uber halts self-driving tests after a pedestrian is killed in Tempe", datetime.date(2018, 3, 20))
    kept = candidates.features([uber.pk])[uber.pk]
    stored = [s["vec"] for s in DedupIncident.objects.get(incident_id=uber.pk).features["reports"] if s.get("vec")]
    assert len(stored) == 2 and kept.vec_ids == tuple(s.id for s in kept.reports)
    assert kept.quantised.dtype == np.int8 and kept.quantised.shape == (2, embedding.DIM)  # a quarter of floats
    assert np.array_equal(kept.vecs, embedding.decode_many(stored))
    assert np.array_equal(kept.vecs[1], embedding.decode(stored[1]))


def test_kept_features_leave_the_garbage_collector_nothing_to_walk_in_their_terms(catalogue):
    import gc

    kept = candidates.features(ids(catalogue))
    gc.collect()
    features = kept[catalogue[0].pk]
    # Tuples of strings, which the collector stops tracking; slots, so no instance dicts.
    assert isinstance(features.reports, tuple) and isinstance(features.reports[0].terms, tuple)
    assert not gc.is_tracked(features.reports[0].terms) and not gc.is_tracked(features.domains)
    assert not hasattr(features, "__dict__") and not hasattr(features.reports[0], "__dict__")
