"""dedup_benchmark: the interface others call, on a handful of reports."""

import json

import pytest
from django.core.management import CommandError, call_command

from incidents.dedup import benchmark, text
from incidents.dedup.urls import slug_words
from incidents.models import Report

from ..factories import ReportFactory


def rows(*specs: tuple[int, int, str, str]) -> str:
    return "".join(
        json.dumps(
            {
                "report_id": rid,
                "incident_id": iid,
                "incident_ids": [iid],
                "title": title,
                "description": None,
                "date": "2018-03-19",
                "url": url,
                "source_domain": "example.org",
                "language": "en",
                "authors": "",
            }
        )
        + "\n"
        for rid, iid, title, url in specs
    )


@pytest.fixture
def files(tmp_path):
    history = tmp_path / "history.jsonl"
    stream = tmp_path / "stream.jsonl"
    history.write_text(
        rows(
            (1, 10, "Self-driving Uber kills Arizona pedestrian", "https://example.org/uber-1"),
            (2, 10, "Uber halts self-driving tests after pedestrian death", "https://example.org/uber-2"),
            (3, 20, "Amazon scraps AI recruiting tool biased against women", "https://example.org/amazon-1"),
        )
    )
    stream.write_text(
        rows(
            (7, 30, "Chatbot tells eating disorder helpline users to lose weight", "https://example.org/neda-1"),
            (5, 10, "Uber self-driving car death in Arizona", "https://www.example.org/uber-1?utm_source=x"),
            (8, 30, "Eating disorder helpline chatbot gave weight loss advice to users", "https://example.org/neda-2"),
        )
    )
    return history, stream, tmp_path / "predictions.jsonl"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_writes_one_prediction_per_stream_report_in_report_order(files, capsys, settings):
    history, stream, out = files
    metrics = out.with_name("metrics.json")
    settings.DEDUP_AUTO_LINK_THRESHOLD = 0.8
    call_command(
        "dedup_benchmark", history=str(history), stream=str(stream), predictions_out=str(out), metrics_out=str(metrics)
    )
    predictions = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["report_id"] for p in predictions] == [5, 7, 8]
    by_id = {p["report_id"]: p for p in predictions}
    # The same article as history report 1: linked to its incident.
    assert by_id[5]["decision"] == "auto_link"
    assert by_id[5]["incident"] == "h:10"
    assert by_id[5]["candidates"][0][0] == "h:10"
    # A first report is not linked; the next report of its incident finds the incident it created.
    assert by_id[7]["decision"] != "auto_link"
    assert by_id[7]["incident"] is None
    assert by_id[8]["candidates"][0][0] == "s:7"
    for p in predictions:
        assert set(p) == {"report_id", "decision", "incident", "candidates"}
        assert len(p["candidates"]) <= 10
        assert all(isinstance(key, str) and 0 <= score <= 1 for key, score in p["candidates"])
    printed = capsys.readouterr().out
    for name in ("recall_at_1", "recall_at_5", "first_not_auto_linked", "bcubed_f1", "p95_ms", "peak_rss_mb"):
        assert name in printed
    numbers = json.loads(metrics.read_text())
    assert numbers["stream_reports"] == 3
    # The thresholds the run used travel with its numbers (benchmarks/dedup.py prints them).
    assert numbers["auto_link_threshold"] == 0.8
    assert numbers["suggest_threshold"] == settings.DEDUP_SUGGEST_THRESHOLD


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_refuses_a_database_with_other_data(files):
    history, stream, out = files
    ReportFactory.create(title="A real report")
    with pytest.raises(CommandError, match="not benchmark data"):
        call_command("dedup_benchmark", history=str(history), stream=str(stream), predictions_out=str(out))
    assert Report.objects.count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_for_fitting_it_dumps_signals_and_links_each_report_to_its_true_incident(files, capsys):
    history, stream, out = files
    features = out.with_name("features.jsonl")
    call_command(
        "dedup_benchmark",
        history=str(history),
        stream=str(stream),
        predictions_out=str(out),
        features_out=str(features),
        link_truth=True,
    )
    dumped = {row["report_id"]: row for row in map(json.loads, features.read_text().splitlines())}
    assert sorted(dumped) == [5, 7, 8]
    # Signals computed before the report was linked, for every scored candidate.
    assert "h:10" in [key for key, _values in dumped[5]["cands"]]
    assert all("semantic_2" in values and "log_median_gap" in values for _k, values in dumped[5]["cands"])
    # Linked by the truth, not by the engine: nothing auto-linked, report 8 joined the incident of 7.
    predictions = {p["report_id"]: p for p in map(json.loads, out.read_text().splitlines())}
    assert all(p["decision"] != "auto_link" for p in predictions.values())
    assert "s:7" in [key for key, _values in dumped[8]["cands"]]
    linked = Report.objects.get(external_id="8").links.get().incident
    assert linked == Report.objects.get(external_id="7").links.get().incident
    assert Report.objects.get(external_id="5").links.get().incident.reports.count() == 3
    assert "linked by truth" in capsys.readouterr().out


def test_metrics_count_what_the_moderation_queue_holds():
    from incidents.dedup.benchmark import metrics

    history = [{"report_id": 1, "incident_id": 10, "incident_ids": [10]}]

    def result(rid: int, iid: int, decision: str, final: str) -> dict:
        row = {"report_id": rid, "incident_id": iid, "incident_ids": [iid]}
        return {
            "report_id": rid,
            "row": row,
            "decision": decision,
            "candidates": [["h:10", 0.5]],
            "final": final,
            "ms": 1.0,
        }

    results = [
        result(5, 10, "auto_link", "h:10"),  # a repeat, linked: not the queue's business
        result(6, 10, "suggest", "s:6"),  # a repeat the queue holds
        result(7, 10, "new", "s:7"),  # a repeat the queue misses
        result(8, 30, "suggest", "s:8"),  # a first report put to moderators all the same
        result(9, 40, "new", "s:9"),
        result(11, 50, "new", "s:11"),
    ]
    numbers = metrics(history, results)
    assert numbers["repeat_reports"] == 3
    assert numbers["queue_reach"] == 0.5
    assert numbers["queue_reach_right_in_3"] == 0.5  # report 6's only candidate is its incident
    assert numbers["queue_first_reports"] == pytest.approx(1 / 3)
    assert numbers["first_not_auto_linked"] == 1.0


def test_metrics_give_the_recall_of_repeats_with_a_summary_apart():
    from incidents.dedup.benchmark import metrics

    history = [{"report_id": 1, "incident_id": 10, "incident_ids": [10]}]

    def result(rid: int, description: str, best: str) -> dict:
        row = {"report_id": rid, "incident_id": 10, "incident_ids": [10], "description": description}
        candidates = [[best, 0.9], ["h:99", 0.1], ["h:98", 0.1], ["h:97", 0.1], ["h:96", 0.1], ["h:10", 0.1]]
        return {
            "report_id": rid,
            "row": row,
            "decision": "new",
            "candidates": candidates,
            "final": f"s:{rid}",
            "ms": 1.0,
        }

    results = [
        result(5, "A summary of what happened.", "h:10"),  # right first
        result(6, "Another summary.", "h:99"),  # right only at 6: in neither
        result(7, "", "h:10"),  # a title alone: counted in the totals only
        result(8, "   ", "h:99"),
    ]
    numbers = metrics(history, results)
    assert numbers["repeat_reports"] == 4
    assert numbers["recall_at_1"] == 0.5
    assert numbers["repeats_with_text"] == 2
    assert numbers["recall_at_1_with_text"] == 0.5
    assert numbers["recall_at_5_with_text"] == 0.5


def test_generated_reports_have_addresses_with_slugs_as_news_sites_give():
    titles = rows(
        (1, 1, "Robot vacuum cleaner photographs private homes secretly", "u"),
        (2, 2, "Chatbot invents fictitious court cases lawyers cited", "v"),
    )
    history = [json.loads(line) for line in titles.splitlines()]
    generated = list(benchmark.synthetic_rows(history, 200))
    assert len(generated) == 200
    slugs = [text.words(slug_words(row["url"])) for row in generated]
    assert all(slugs)
    # Mostly the title's own words, as a headline's slug; some reports add a word it lacks.
    assert all(len(set(slug) & set(text.words(row["title"]))) >= 3 for slug, row in zip(slugs, generated, strict=True))
    adding = sum(bool(set(slug) - set(text.words(row["title"]))) for slug, row in zip(slugs, generated, strict=True))
    assert 0.2 < adding / len(generated) < 0.8
    assert len({row["url"] for row in generated}) == 200
