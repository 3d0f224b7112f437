"""The dedup_report task: runs twice or after a crash and ends as one clean run;
records a permanent failure; honours the moderators' "not a duplicate"."""

import pytest

from incidents import services, tasks
from incidents.dedup import pipeline
from incidents.models import DedupResult, PairVerdict, Report, ReportIncidentLink

from ..factories import IncidentFactory

pytestmark = pytest.mark.django_db

ARTICLE = "https://www.example-news.org/2024/05/robotaxi-blocks-ambulance"


@pytest.fixture
def incident():
    """An incident whose supporting article is in the index."""
    incident = IncidentFactory.create(title="Robotaxi blocks an ambulance")
    report = services.report_submit(
        title="Robotaxi blocks ambulance on its way to a crash", source_url=ARTICLE, channel=Report.Channel.FEED
    )
    services.report_attach(report=report, incident=incident, actor=None)
    return incident


def same_article() -> Report:
    return services.report_submit(
        title="Driverless taxi stood in the way of an ambulance",
        source_url=ARTICLE.replace("https://www.", "http://") + "?utm_source=newsletter",
        channel=Report.Channel.WEB,
    )


def state(report: Report) -> tuple:
    result = DedupResult.objects.get(report=report)
    links = list(ReportIncidentLink.objects.filter(report=report).values_list("incident_id", "method", "confirmed"))
    return result.state, result.decision, result.incident_id, result.candidates, links


def test_running_the_task_twice_links_once(incident):
    report = same_article()

    tasks.dedup_report.apply(args=(report.pk,))
    first = state(report)
    tasks.dedup_report.apply(args=(report.pk,))

    assert first[1] == DedupResult.Decision.AUTO_LINK
    assert first[4] == [(incident.pk, "dedup", False)]
    assert state(report) == first


def test_a_crash_in_the_middle_leaves_nothing_half_written(incident, monkeypatch):
    report = same_article()
    twin = same_article()
    tasks.dedup_report.apply(args=(twin.pk,))  # a clean run, to compare with

    def crash(**kwargs):
        raise KeyboardInterrupt("the worker was killed")

    monkeypatch.setattr(services, "report_link_auto", crash)
    with pytest.raises(KeyboardInterrupt):
        pipeline.dedup_run(report.pk)
    assert DedupResult.objects.get(report=report).state == DedupResult.State.PENDING
    assert DedupResult.objects.get(report=report).attempts == 1
    assert not ReportIncidentLink.objects.filter(report=report).exists()

    monkeypatch.undo()
    tasks.dedup_report.apply(args=(report.pk,))

    clean = state(twin)
    assert state(report)[:3] == clean[:3]
    assert state(report)[4] == clean[4]
    # Each run is counted: the killed one and the one that finished.
    assert DedupResult.objects.get(report=report).attempts == 2
    assert DedupResult.objects.get(report=twin).attempts == 1


def test_a_run_that_another_finished_first_changes_nothing(incident, monkeypatch):
    report = same_article()
    real_match = pipeline.engine.match_report
    other: list[DedupResult] = []

    def overtaken(report, **kwargs):
        # While this run matches, another one finishes the report and links it.
        monkeypatch.setattr(pipeline.engine, "match_report", real_match)
        finished_first = pipeline.dedup_run(report.pk)
        assert finished_first is not None
        other.append(finished_first)
        return real_match(report, **kwargs)

    monkeypatch.setattr(pipeline.engine, "match_report", overtaken)
    returned = pipeline.dedup_run(report.pk)
    assert returned is not None
    stored = DedupResult.objects.get(report=report)
    assert stored.state == DedupResult.State.DONE and stored.decision == DedupResult.Decision.AUTO_LINK
    assert stored.finished == other[0].finished == returned.finished  # the first to finish stands
    assert state(report)[4] == [(incident.pk, "dedup", False)]  # linked once
    assert stored.attempts == returned.attempts == 2


def test_a_permanent_error_is_recorded_and_not_retried(incident, monkeypatch):
    report = same_article()

    def broken(*args, **kwargs):
        raise ValueError("bad data")

    monkeypatch.setattr(pipeline.engine, "match_report", broken)
    with pytest.raises(ValueError, match="bad data"):
        tasks.dedup_report.apply(args=(report.pk,))

    result = DedupResult.objects.get(report=report)
    assert result.attempts == 1, "a permanent error is not retried"
    assert result.state == DedupResult.State.FAILED
    assert "bad data" in result.error
    assert not ReportIncidentLink.objects.filter(report=report).exists()


def test_a_pair_called_not_a_duplicate_is_never_suggested_again(incident):
    report = same_article()
    PairVerdict.objects.create(report=report, incident=incident, verdict=PairVerdict.Verdict.DIFFERENT)

    tasks.dedup_report.apply(args=(report.pk,))

    result = DedupResult.objects.get(report=report)
    assert incident.pk not in [c["incident"] for c in result.candidates]
    assert not ReportIncidentLink.objects.filter(report=report).exists()


def test_a_report_already_linked_by_a_moderator_is_not_auto_linked_elsewhere(incident):
    other = IncidentFactory.create(title="Something else")
    report = same_article()
    services.report_attach(report=report, incident=other, actor=None)

    tasks.dedup_report.apply(args=(report.pk,))

    assert list(report.links.values_list("incident_id", flat=True)) == [other.pk]


def test_a_result_made_by_another_run_meanwhile_is_taken_not_made_twice(incident):
    report = same_article()
    read = Report.objects.select_related("dedup").get(pk=report.pk)  # as dedup_run reads it: no result yet
    other = DedupResult.objects.create(report=report, attempts=1)  # the other run, meanwhile

    result, created = pipeline._result_of(read)

    assert (result.pk, created) == (other.pk, False)
    assert DedupResult.objects.filter(report=report).count() == 1
