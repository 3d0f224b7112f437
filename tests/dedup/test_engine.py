"""The engine: what it finds, what it says about it, and what it never suggests."""

import datetime
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from incidents import services
from incidents.dedup import engine, index
from incidents.dedup.entities import find_entities, mention_keys
from incidents.dedup.urls import canonical_url
from incidents.models import Incident, PairVerdict, Report

from ..factories import EntityFactory, IncidentFactory, ReportFactory, link

pytestmark = pytest.mark.django_db


def indexed(incident: Incident, **fields: object) -> Report:
    report = ReportFactory.create(**fields)
    # As report_submit stores it.
    Report.objects.filter(pk=report.pk).update(canonical_url=canonical_url(report.source_url))
    report.refresh_from_db()
    link(report, incident)
    index.index_report(report, incident.pk)
    return report


@pytest.fixture
def catalogue():
    uber = IncidentFactory.create(title="Uber AV killed pedestrian")
    indexed(
        uber,
        title="Self-driving Uber kills Arizona woman in first fatal crash involving pedestrian",
        text="",
        source_url="https://www.nytimes.com/2018/03/19/technology/uber-driverless-fatality.html",
        date_published=datetime.date(2018, 3, 19),
    )
    kids = IncidentFactory.create(title="YouTube Kids shows disturbing videos")
    indexed(
        kids,
        title="YouTube Kids app is still showing disturbing videos",
        text="",
        date_published=datetime.date(2018, 2, 7),
    )
    bias = IncidentFactory.create(title="Hiring algorithm penalised women")
    indexed(
        bias,
        title="Amazon scraps secret AI recruiting tool that showed bias against women",
        text="",
        date_published=datetime.date(2018, 10, 10),
    )
    return {"uber": uber, "kids": kids, "bias": bias}


def test_same_article_is_linked_automatically(catalogue):
    report = ReportFactory.create(
        title="Driverless car death",
        text="",
        source_url="http://nytimes.com/2018/03/19/technology/uber-driverless-fatality.html?utm_source=rss",
    )
    match = engine.match_report(report)
    best = match.candidates[0]
    assert best.incident_id == catalogue["uber"].pk
    assert best.reasons["same_url"] is True
    assert match.decision == "auto_link"


def test_a_report_on_the_same_event_ranks_its_incident_first_with_reasons(catalogue):
    report = ReportFactory.create(
        title="Uber self-driving car kills pedestrian in Arizona",
        text="",
        date_published=datetime.date(2018, 3, 20),
    )
    match = engine.match_report(report)
    best = match.candidates[0]
    assert best.incident_id == catalogue["uber"].pk
    assert best.score > max(c.score for c in match.candidates[1:]) if len(match.candidates) > 1 else True
    assert best.reasons["date_gap_days"] == 1
    assert "pedestrian" in best.reasons["matching_phrases"] or "uber" in best.reasons["matching_phrases"]
    assert 0.0 <= best.score <= 1.0


def test_an_unrelated_report_looks_new(catalogue):
    report = ReportFactory.create(title="Voice clone used to defraud bank manager in Hong Kong", text="")
    match = engine.match_report(report)
    assert match.decision == "new"


def test_the_words_of_a_reports_address_count_when_its_title_says_little(catalogue):
    """A title with no word of the incident's, and a slug that names it (engine 2026.12-11)."""
    title = "Parents alarmed by what their children watch"
    without = ReportFactory.create(title=title, text="", source_url="https://example.org/p/1234")
    with_slug = ReportFactory.create(
        title=title, text="", source_url="https://example.org/2018/02/youtube-kids-app-disturbing-videos"
    )
    phrases = {
        report.pk: {c.incident_id: c.reasons["matching_phrases"] for c in engine.match_report(report).candidates}.get(
            catalogue["kids"].pk, []
        )
        for report in (without, with_slug)
    }
    assert phrases[without.pk] == []
    assert "youtube kid" in phrases[with_slug.pk]
    assert engine.match_report(with_slug).candidates[0].incident_id == catalogue["kids"].pk


def test_incidents_marked_not_a_duplicate_are_never_suggested(catalogue):
    report = ReportFactory.create(title="Uber self-driving car kills pedestrian in Arizona", text="")
    assert engine.match_report(report).candidates[0].incident_id == catalogue["uber"].pk
    match = engine.match_report(report, exclude_incident_ids={catalogue["uber"].pk})
    assert catalogue["uber"].pk not in [c.incident_id for c in match.candidates]

    # A moderator's "not a duplicate" is remembered by match_report itself.
    PairVerdict.objects.create(report=report, incident=catalogue["uber"], verdict=PairVerdict.Verdict.DIFFERENT)
    assert catalogue["uber"].pk not in [c.incident_id for c in engine.match_report(report).candidates]


def test_a_report_is_not_matched_to_the_incident_it_already_belongs_to(catalogue):
    report = Report.objects.filter(links__incident=catalogue["kids"]).get()
    assert catalogue["kids"].pk not in [c.incident_id for c in engine.match_report(report).candidates]


def test_entities_are_found_under_their_aliases():
    openai = EntityFactory.create(name="OpenAI", slug="openai", aliases=["ChatGPT maker"])
    EntityFactory.create(name="Tesla", slug="tesla")
    assert "openai" in mention_keys("A lawsuit against Open AI was filed")
    found = find_entities(["Open AI's lawyers and the ChatGPT maker", "Tesla's Autopilot", "openai.com says"])
    assert set(found) >= {openai.pk}
    assert len(found) == 2


def test_shared_entities_are_given_as_reasons():
    EntityFactory.create(name="Clearview AI", slug="clearview-ai", aliases=["Clearview"])
    incident = IncidentFactory.create()
    indexed(incident, title="Clearview AI fined in Italy over facial recognition database", text="")
    report = ReportFactory.create(title="Clearview fined by regulator over face database", text="")
    best = engine.match_report(report).candidates[0]
    assert best.incident_id == incident.pk
    assert best.reasons["shared_entities"] == ["Clearview AI"]


def test_the_decision_follows_the_thresholds(settings):
    settings.DEDUP_AUTO_LINK_THRESHOLD = 0.8
    settings.DEDUP_SUGGEST_THRESHOLD = 0.3
    assert engine.decide(0.9) == "auto_link"
    assert engine.decide(0.5) == "suggest"
    assert engine.decide(0.1) == "new"
    assert engine.decide(None) == "new"


def test_similar_published_offers_only_published_incidents(catalogue, settings):
    settings.DEDUP_SUGGEST_THRESHOLD = 0.0
    Incident.objects.filter(pk=catalogue["kids"].pk).update(status=Incident.Status.PUBLISHED)
    found = engine.similar_published("Disturbing videos on YouTube Kids app", "")
    assert [incident.pk for incident, _score in found] == [catalogue["kids"].pk]
    assert engine.similar_published("Uber self-driving car kills pedestrian", "") == []


def test_a_new_link_through_the_services_is_indexed(catalogue, moderator):
    report = ReportFactory.create(title="Amazon AI recruiting tool biased against women", text="")
    services.report_attach(report=report, incident=catalogue["bias"], actor=moderator)
    other = ReportFactory.create(title="Amazon recruiting AI tool biased against women, Reuters says", text="")
    best = engine.match_report(other).candidates[0]
    assert best.incident_id == catalogue["bias"].pk
    assert best.reasons["text"] > 0.3


# One candidate's signals, printed by a fresh process: eight equally rare words, of which the
# incident has the last five.
SIGNALS_SCRIPT = """
import json, os
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
from incidents.dedup import engine, index, termset
from incidents.dedup.candidates import IncidentFeatures
words = [f"w:word{n}" for n in range(8)]
query = index.ReportFeatures(id=None, terms=words, date="2020-01-02", url="", domain="")
stored = {"id": 1, "terms": [*words[3:], "w:other"], "norm": 2.5, "date": "2020-01-01"}
features = IncidentFeatures.from_dict({"reports": [stored], "hashes": termset.encode(stored["terms"]), "ids": [1]})
values, reasons = engine.signals(engine.Probe.of(query, {t: 1.7 for t in words}), features, same_url=False)
print(json.dumps([values, reasons], sort_keys=True))
"""


def test_a_report_scores_the_same_in_every_process():
    # Python orders a set of strings differently in each process (hash randomisation).
    outputs = {
        subprocess.run(
            [sys.executable, "-c", SIGNALS_SCRIPT],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(outputs) == 1
    values, reasons = json.loads(outputs.pop())
    # The first three of the equally rare words are the most specific: the incident has none.
    assert values["specific_missed"] == 1.0
    assert reasons["matching_phrases"] == ["word3", "word4", "word5", "word6", "word7"]


def _values(**changes: float) -> dict[str, float]:
    return {**engine.NOBODY, **changes}


STRONG = {
    "text_max": 0.6,
    "coverage": 0.7,
    "semantic_max": 0.8,
    "semantic_2": 0.75,
    "semantic_top3": 0.75,
    "semantic_mean": 0.8,
    "log_gap": 0.0,
    "log_median_gap": 1.0,
}


def test_score_ranks_the_best_candidate_first_with_probabilities():
    weak = _values(text_max=0.1, coverage=0.2, semantic_max=0.3, semantic_2=0.3, semantic_top3=0.3, semantic_mean=0.3)
    scored = engine.score([(1, weak), (2, _values(**STRONG))])
    assert [incident_id for incident_id, _p, _rank in scored] == [2, 1]
    assert all(0.0 < p < 1.0 for _i, p, _rank in scored)
    assert scored[0][1] > scored[1][1]


def test_a_close_runner_up_makes_the_leader_less_certain():
    alone = engine.score([(1, _values(**STRONG))])[0][1]
    runner_up = _values(**{**STRONG, "semantic_max": 0.78, "coverage": 0.65})
    contested = next(p for i, p, _rank in engine.score([(1, _values(**STRONG)), (2, runner_up)]) if i == 1)
    assert contested < alone


def test_the_same_article_is_certain_whatever_the_other_signals():
    weak_but_same_article = _values(same_url=1.0, semantic_max=0.2)
    scored = engine.score([(1, weak_but_same_article), (2, _values(**STRONG))])
    assert {i: p for i, p, _rank in scored}[1] >= engine.SAME_URL_SCORE


def test_scoring_the_first_few_gives_the_numbers_of_scoring_all():
    rng = random.Random(3)
    many = [
        (n, _values(**{name: rng.random() for name in ("text_max", "coverage", "semantic_max", "semantic_2")}))
        for n in range(40)
    ]
    many.append((99, _values(same_url=1.0, semantic_max=0.1)))
    everything = engine.score(many)
    assert engine.score(many, 10) == everything[:10]
    assert everything[0][0] == 99  # the same article first, then the re-ranked order
    assert engine.score(many, 0) == []


def test_no_candidates_score_nothing():
    assert engine.score([]) == []


def test_the_decision_model_walks_its_trees():
    # Two trees over one input: a stump (x <= 0.5: -1, else +1) and a single leaf of 0.5.
    model = engine.DecisionModel.from_dict(
        {
            "names": ["lead"],
            "baseline": 0.25,
            "depth": 1,
            "trees": [
                {
                    "feature": [0, 0, 0],
                    "threshold": [0.5, 0.0, 0.0],
                    "left": [1, 0, 0],
                    "right": [2, 0, 0],
                    "leaf": [False, True, True],
                    "value": [0.0, -1.0, 1.0],
                },
                {"feature": [0], "threshold": [0.0], "left": [0], "right": [0], "leaf": [True], "value": [0.5]},
            ],
        }
    )
    assert model.raw([{"lead": 0.2}, {"lead": 0.5}, {"lead": 0.9}]).tolist() == [-0.25, -0.25, 1.75]
    assert model.probabilities([{"lead": 0.9}]) == [pytest.approx(1 / (1 + math.exp(-1.75)))]
    assert model.probabilities([]) == []


def test_the_shipped_decision_model_reads_exactly_the_decision_inputs():
    inputs = engine.decision_inputs(_values(**STRONG), rank=1.0, rival_rank=0.0, rival_semantic=0.5)
    assert engine.DECISION_MODEL.names == list(inputs)
    assert len(engine.DECISION_MODEL.value) >= 50  # trees, fitted by benchmarks/_dedup_fit.py


def _stump(name: str, split: float, below: float, above: float) -> "engine.DecisionModel":
    return engine.DecisionModel.from_dict(
        {
            "names": [name],
            "baseline": 0.0,
            "depth": 1,
            "trees": [
                {
                    "feature": [0, 0, 0],
                    "threshold": [split, 0.0, 0.0],
                    "left": [1, 0, 0],
                    "right": [2, 0, 0],
                    "leaf": [False, True, True],
                    "value": [0.0, below, above],
                }
            ],
        }
    )


def test_the_shipped_reranker_reads_exactly_the_rerank_inputs():
    values = [_values(**STRONG), _values(text_max=0.1, semantic_max=0.3)]
    ranks = [engine.rank_score(v) for v in values]
    inputs = engine.rerank_inputs(values, ranks, [0, 1])
    assert engine.RERANK_MODEL.names == list(inputs[0])
    assert len(engine.RERANK_MODEL.value) >= 50
    assert inputs[0]["position"] == 0.0 and inputs[1]["position"] == 1.0
    assert inputs[0]["rank_gap"] == 0.0 > inputs[1]["rank_gap"]


def test_the_reranker_reorders_only_the_first_candidates(monkeypatch):
    values = [_values(**STRONG) for _ in range(4)]
    ranks = [4.0, 3.0, 2.0, 1.0]
    # Prefers whatever the rank model put last among those it sees.
    monkeypatch.setattr(engine, "RERANK_MODEL", _stump("position", 1.5, -1.0, 1.0))
    monkeypatch.setattr(engine, "RERANK_TOP", 3)
    # Positions 2 (index 2) scores above 0 and 1; index 3 is beyond the re-ranker and stays last.
    assert engine.reranked(values, ranks, [0, 1, 2, 3]) == [2, 0, 1, 3]
    monkeypatch.setattr(engine, "RERANK_MODEL", _stump("position", 1.5, 0.0, 0.0))
    assert engine.reranked(values, ranks, [0, 1, 2, 3]) == [0, 1, 2, 3]  # ties keep the rank order


def test_after_reranking_the_list_still_reads_best_first_by_probability(monkeypatch):
    weak = _values(text_max=0.1, coverage=0.2, semantic_max=0.3, semantic_2=0.3, semantic_top3=0.3, semantic_mean=0.3)
    # A re-ranker that puts the rank model's runner-up first.
    monkeypatch.setattr(engine, "RERANK_MODEL", _stump("position", 0.5, -1.0, 1.0))
    scored = engine.score([(1, weak), (2, _values(**STRONG))])
    assert [incident_id for incident_id, _p, _rank in scored] == [1, 2]
    # The weak candidate's probability caps the strong one's: no auto-link on a doubtful first choice.
    assert scored[0][1] >= scored[1][1]
    assert scored[1][1] == scored[0][1]


def test_a_lookup_reads_the_rarest_terms_up_to_its_postings_budget(monkeypatch):
    monkeypatch.setattr(engine, "POSTINGS_BUDGET", 100)
    dfs = {"w:rare": 3, "w:less": 40, "w:common": 90, "w:capped": index.MAX_POSTINGS + 1, "v:7": 50}
    idfs = {t: 10.0 / df for t, df in dfs.items()} | {"w:unseen": 9.0}
    lookup = engine.lookup_terms([*dfs, "w:unseen"], dfs, idfs)
    # 3 + 40 + 50 postings fit in 100; the commonest word would read 90 more. A term past
    # MAX_POSTINGS has no postings to read, and one no incident uses finds nothing.
    assert list(lookup) == ["w:rare", "w:less", "v:7"]
    assert lookup["v:7"] == pytest.approx(0.3 * idfs["v:7"])  # a meaning bucket weighs less
    # The rarest term is looked up even when it alone is over the budget.
    monkeypatch.setattr(engine, "POSTINGS_BUDGET", 1)
    assert list(engine.lookup_terms(dfs, dfs, idfs)) == ["w:rare"]
