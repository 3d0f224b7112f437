"""The deduplication benchmark behind ``manage.py dedup_benchmark`` (see docs/dedup.md).

History reports are loaded as confirmed incidents with bulk writes and indexed
by ``index.index_bulk``; each stream report then goes through
``services.report_submit`` (channel feed) with the ``dedup_report`` task run
inline, exactly as a live submission. A report the engine does not link
becomes a new incident, as a moderator would make it (a suggestion counts as
not linked: the grouping measures what the engine does alone).
"""

import contextlib
import datetime
import json
import random
import re
import resource
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.db import transaction
from django.test import override_settings

from incidents import services
from incidents.models import (
    DedupResult,
    Entity,
    EntityAlias,
    Incident,
    Report,
    ReportIncidentLink,
    normalise_alias,
)

from . import candidates, engine, index
from .index_models import DedupIncident, DedupPosting, DedupTerm
from .urls import canonical_url

SOURCE = "dedup-bench"
BATCH = 1000


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _date(value: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def incident_ids(row: dict[str, Any]) -> list[int]:
    ids = [int(i) for i in row.get("incident_ids") or []]
    return ids or [int(row["incident_id"])]


def foreign_data() -> int:
    """Rows that the benchmark did not write (it refuses to mix with them)."""
    return (
        Report.objects.exclude(source_name__startswith=SOURCE).count()
        + Incident.objects.exclude(source_name=SOURCE).count()
    )


def reset() -> None:
    """Remove an earlier run's rows and the whole index."""
    with transaction.atomic():
        DedupPosting.objects.all().delete()
        DedupTerm.objects.all().delete()
        DedupIncident.objects.all().delete()
        DedupResult.objects.filter(report__source_name__startswith=SOURCE).delete()
        ReportIncidentLink.objects.filter(report__source_name__startswith=SOURCE).delete()
        Report.objects.filter(source_name__startswith=SOURCE).delete()
        Incident.objects.filter(source_name=SOURCE).delete()


def load_entities(paths: list[str]) -> int:
    """Known organisations and systems: the AIID deployer and developer slugs of ``paths``."""
    names: dict[str, str] = {}
    for path in paths:
        if not Path(path).exists():
            continue
        for row in read_rows(path):
            for slug in (row.get("deployers") or []) + (row.get("developers") or []):
                name = " ".join(part.capitalize() for part in slug.split("-"))
                key = normalise_alias(name)
                if len(key) >= 2:
                    names.setdefault(key, name)
    known = set(EntityAlias.objects.filter(key__in=list(names)).values_list("key", flat=True))
    fresh = {key: name for key, name in names.items() if key not in known}
    taken = set(Entity.objects.filter(slug__in=[f"bench-{k}"[:200] for k in fresh]).values_list("slug", flat=True))
    entities = Entity.objects.bulk_create(
        [
            Entity(kind=Entity.Kind.ORGANISATION, name=name, slug=f"bench-{key}"[:200])
            for key, name in fresh.items()
            if f"bench-{key}"[:200] not in taken
        ]
    )
    EntityAlias.objects.bulk_create(
        [EntityAlias(entity=e, alias=e.name, key=normalise_alias(e.name)) for e in entities], ignore_conflicts=True
    )
    return len(entities)


def _report(row: dict[str, Any], kind: str) -> Report:
    url = row.get("url") or ""
    return Report(
        title=(row.get("title") or "(untitled)")[:300],
        text=row.get("description") or "",
        source_url=url[:1000],
        canonical_url=canonical_url(url)[:1000],
        publisher=(row.get("source_domain") or "")[:200],
        authors=(row.get("authors") or "")[:500],
        language=(row.get("language") or "en")[:10],
        date_published=_date(row.get("date")),
        channel=Report.Channel.FEED,
        status=Report.Status.ACCEPTED,
        source_name=f"{SOURCE}-{kind}",
        external_id=str(row["report_id"]),
    )


def _targets(row: dict[str, Any]) -> list[str]:
    """Keys of the history incidents a row belongs to (generated rows have their own)."""
    return [row["_key"]] if row.get("_key") else [f"h:{i}" for i in incident_ids(row)]


def load_history(rows: list[dict[str, Any]], keys: dict[int, str]) -> int:
    """Bulk-load history reports as confirmed incidents (one per AIID incident) and index them."""
    by_incident: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        for key in _targets(row):
            by_incident[key].append(row)
    first_of: dict[str, dict[str, Any]] = {key: group[0] for key, group in by_incident.items()}
    created = 0
    names = list(by_incident)
    for start in range(0, len(names), BATCH * 5):
        chunk = names[start : start + BATCH * 5]
        with transaction.atomic():
            incidents = Incident.objects.bulk_create(
                [
                    Incident(
                        public_id=f"B-{key}"[:20],
                        title=(first_of[key].get("title") or "(untitled)")[:300],
                        date_occurred=_date(first_of[key].get("date")),
                        status=Incident.Status.PUBLISHED,
                        source_name=SOURCE,
                        external_id=key,
                    )
                    for key in chunk
                ],
                batch_size=BATCH,
            )
        for incident in incidents:
            keys[incident.pk] = incident.external_id
        created += len(incidents)
    pk_of = {key: pk for pk, key in keys.items()}
    report_rows = list({int(row["report_id"]): row for row in rows}.values())

    def loaded_links() -> Iterator[tuple[Report, int]]:
        """The reports and their links, written a chunk at a time as the indexing asks for them:
        one ``index_bulk`` for the whole history embeds each batch while the one before it is
        written, chunk boundaries included."""
        for start in range(0, len(report_rows), BATCH * 5):
            row_chunk = report_rows[start : start + BATCH * 5]
            with transaction.atomic():
                reports = Report.objects.bulk_create([_report(row, "h") for row in row_chunk], batch_size=BATCH)
                pairs = []
                for report, row in zip(reports, row_chunk, strict=True):
                    pairs += [(report, pk_of[key]) for key in _targets(row) if key in pk_of]
                ReportIncidentLink.objects.bulk_create(
                    [
                        ReportIncidentLink(report=r, incident_id=i, method=ReportIncidentLink.Method.IMPORT)
                        for r, i in pairs
                    ],
                    batch_size=BATCH,
                )
            yield from pairs

    index.index_bulk(loaded_links())
    # What autovacuum does soon after an import on a production server (the benchmark's
    # server may run without it; this machine's does), for every table: statistics for the
    # planner, and the visibility map that lets the postings query read the (term, incident)
    # key alone (docs/dedup.md, "Where a match's time goes").
    index.refresh_statistics(whole_database=True)
    return created


def synthetic_rows(history: list[dict[str, Any]], count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """``count`` generated reports in made-up incidents of 1–8 reports, built from the
    words, publishers and years of the history: the index and the scorer see a
    realistic spread of terms, and no generated incident copies a real one. Their
    addresses have slugs (since engine 2026.12-11, which reads them)."""
    rng = random.Random(seed)
    vocabulary = [w for row in history for w in (row.get("title") or "").split() if len(w) > 2]

    def slug_of(words: list[str]) -> list[str]:
        """The words as a slug spells them: lower case letters only, and no short ones."""
        return [w for w in (re.sub(r"[^a-z]", "", w.lower()) for w in words) if len(w) > 2]

    slug_vocabulary = slug_of(vocabulary)
    domains = [row.get("source_domain") or "example.org" for row in history]
    made = 0
    number = 0
    while made < count:
        number += 1
        core = rng.sample(vocabulary, 4)
        day = datetime.date(2012, 1, 1) + datetime.timedelta(days=rng.randrange(5000))
        for _ in range(min(rng.randint(1, 8), count - made)):
            words = core[:] + rng.sample(vocabulary, rng.randint(3, 8))
            rng.shuffle(words)
            domain = rng.choice(domains)
            # An address with a slug, as most news sites give (93 % of the dev reports): some
            # of the title's words and, as often as not, a word or two the title does not use.
            slug = slug_of(words[:6])
            if rng.random() < 0.5:
                slug += rng.sample(slug_vocabulary, rng.randint(1, 2))
            made += 1
            yield {
                "report_id": -made,
                "incident_id": -number,
                "incident_ids": [-number],
                "_key": f"g:{number}",
                "title": " ".join(words),
                "description": " ".join(rng.sample(vocabulary, 12)) if rng.random() < 0.33 else None,
                "date": (day + datetime.timedelta(days=rng.randint(0, 60))).isoformat(),
                "url": f"https://{domain}/{day.year}/{'-'.join(slug)}-{rng.getrandbits(32):x}",
                "source_domain": domain,
                "language": "en",
                "authors": "",
            }


def rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_stream(
    rows: list[dict[str, Any]],
    keys: dict[int, str],
    predictions_out: str | Path,
    *,
    on_features: Callable[[Report, dict[str, Any]], None] | None = None,
    link_truth: bool = False,
) -> list[dict[str, Any]]:
    """Send each stream report through report_submit and the dedup task; write predictions.

    ``link_truth`` (for fitting the weights, with ``on_features``): nothing is auto-linked,
    and each report is attached to its true incident as a moderator would, so the incidents
    the engine compares against grow as they would with perfect decisions."""
    from config.celery import app

    # The task runs inline whatever broker is configured: this is one process measuring itself.
    app.conf.task_always_eager = True
    # Linking by truth: a threshold no score reaches, so the links below are the only ones.
    with override_settings(DEDUP_AUTO_LINK_THRESHOLD=2.0) if link_truth else contextlib.nullcontext():
        return _stream(rows, keys, predictions_out, on_features=on_features, link_truth=link_truth)


def _stream(
    rows: list[dict[str, Any]],
    keys: dict[int, str],
    predictions_out: str | Path,
    *,
    on_features: Callable[[Report, dict[str, Any]], None] | None,
    link_truth: bool,
) -> list[dict[str, Any]]:
    home = {int(key[2:]): pk for pk, key in keys.items() if key.startswith("h:")}
    out = []
    with open(predictions_out, "w", encoding="utf-8") as handle:
        for row in sorted(rows, key=lambda r: int(r["report_id"])):
            started = time.perf_counter()
            with transaction.atomic():
                report = services.report_submit(
                    title=(row.get("title") or "(untitled)")[:300],
                    text=row.get("description") or "",
                    channel=Report.Channel.FEED,
                    source_url=(row.get("url") or "")[:1000],
                    publisher=(row.get("source_domain") or "")[:200],
                    authors=(row.get("authors") or "")[:500],
                    language=(row.get("language") or "en")[:10],
                    date_published=_date(row.get("date")),
                    source_name=f"{SOURCE}-s",
                    external_id=str(row["report_id"]),
                )
                if on_features is not None:
                    on_features(report, row)
            # Leaving the block committed the report: on_commit ran dedup_report inline. The time
            # is the submission and its tasks; reading their result back below is the benchmark's.
            elapsed = (time.perf_counter() - started) * 1000
            result = DedupResult.objects.filter(report=report).first()
            decision = result.decision if result and result.decision else "new"
            listed = (
                [[keys.get(c["incident"], f"?:{c['incident']}"), c["score"]] for c in result.candidates]
                if result
                else []
            )
            linked = None
            if decision == "auto_link":
                link = ReportIncidentLink.objects.filter(report=report).first()
                linked = keys.get(link.incident_id) if link else None
            truth = next((home[i] for i in incident_ids(row) if i in home), None) if link_truth else None
            if truth is not None:
                services.report_attach(report=report, incident=Incident.objects.get(pk=truth), actor=None)
                final = keys[truth]
            elif linked is None:
                # As a moderator would: a new incident from the report.
                incident = services.incident_create_from_report(report=report, actor=None)
                keys[incident.pk] = f"s:{row['report_id']}"
                final = keys[incident.pk]
                for i in incident_ids(row):
                    home.setdefault(i, incident.pk)
            else:
                final = linked
            record = {
                "report_id": row["report_id"],
                "decision": decision,
                "incident": linked,
                "candidates": listed[:10],
            }
            handle.write(json.dumps(record) + "\n")
            out.append({**record, "final": final, "ms": elapsed, "row": row})
    return out


def metrics(history: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Any]:
    """Recall@1/@5, first reports not auto-linked, B-cubed of the final grouping, costs."""
    seen_in: dict[int, set[str]] = defaultdict(set)  # AIID incident -> keys holding its earlier reports
    for row in history:
        if "_key" in row:
            continue
        for incident_id in incident_ids(row):
            seen_in[incident_id].add(f"h:{incident_id}")
    hits1 = hits5 = repeats = firsts = firsts_new = 0
    # The moderation queue: repeats not auto-linked that it holds (and with a right incident
    # among the three candidates a moderator sees first), and first reports it holds.
    repeats_missed = repeats_queued = repeats_queued_right = firsts_queued = 0
    # Recall of the repeats that have a summary, apart: most dev reports have a title alone
    # (docs/dedup.md, "Where recall is lost").
    with_text = with_text_hits1 = with_text_hits5 = 0
    for result in results:
        row = result["row"]
        targets = set().union(*(seen_in[i] for i in incident_ids(row)))
        ranked = [key for key, _score in result["candidates"]]
        queued = result["decision"] == "suggest"
        if targets:
            hit1, hit5 = bool(targets & set(ranked[:1])), bool(targets & set(ranked[:5]))
            repeats += 1
            hits1 += hit1
            hits5 += hit5
            repeats_missed += result["decision"] != "auto_link"
            repeats_queued += queued
            repeats_queued_right += queued and bool(targets & set(ranked[:3]))
            if (row.get("description") or "").strip():
                with_text += 1
                with_text_hits1 += hit1
                with_text_hits5 += hit5
        else:
            firsts += 1
            firsts_new += result["decision"] != "auto_link"
            firsts_queued += queued
        for incident_id in incident_ids(row):
            seen_in[incident_id].add(result["final"])
    gold = {r["report_id"]: int(r["row"]["incident_id"]) for r in results}
    pred = {r["report_id"]: r["final"] for r in results}
    gold_groups: dict[int, set[int]] = defaultdict(set)
    pred_groups: dict[str, set[int]] = defaultdict(set)
    for rid in gold:
        gold_groups[gold[rid]].add(rid)
        pred_groups[pred[rid]].add(rid)
    precision = recall = 0.0
    for rid in gold:
        same_pred, same_gold = pred_groups[pred[rid]], gold_groups[gold[rid]]
        both = len(same_pred & same_gold)
        precision += both / len(same_pred)
        recall += both / len(same_gold)
    n = max(len(gold), 1)
    precision, recall = precision / n, recall / n
    times = sorted(r["ms"] for r in results) or [0.0]
    decisions: dict[str, int] = defaultdict(int)
    for r in results:
        decisions[r["decision"]] += 1
    return {
        "stream_reports": len(results),
        "repeat_reports": repeats,
        "recall_at_1": hits1 / repeats if repeats else None,
        "recall_at_5": hits5 / repeats if repeats else None,
        "repeats_with_text": with_text,
        "recall_at_1_with_text": with_text_hits1 / with_text if with_text else None,
        "recall_at_5_with_text": with_text_hits5 / with_text if with_text else None,
        "first_reports": firsts,
        "first_not_auto_linked": firsts_new / firsts if firsts else None,
        "queue_reach": repeats_queued / repeats_missed if repeats_missed else None,
        "queue_reach_right_in_3": repeats_queued_right / repeats_missed if repeats_missed else None,
        "queue_first_reports": firsts_queued / firsts_new if firsts_new else None,
        "bcubed_precision": precision,
        "bcubed_recall": recall,
        "bcubed_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "decisions": dict(decisions),
        "reports_per_second": len(results) / (sum(times) / 1000) if sum(times) else None,
        "p50_ms": statistics.median(times),
        "p95_ms": times[min(len(times) - 1, round(0.95 * len(times)) - 1)],
        "peak_rss_mb": rss_peak_mb(),
    }


def warm_up() -> None:
    """Load the model before timing: the targets exclude model loading."""
    from . import embedding

    embedding.embed(["warm up"])


def history_size() -> int:
    return Report.objects.filter(source_name=f"{SOURCE}-h").count()


def engine_version() -> str:
    return engine.ENGINE_VERSION


def candidate_rows_read() -> float | None:
    """The share of scored candidates whose features were read from the database, not kept."""
    return candidates.read_share()


DEMO_INCIDENTS = Path(__file__).resolve().parent.parent / "demo" / "aiid-incidents.jsonl"


def feature_dumper(handle: Any, keys: dict[int, str]) -> Callable[[Report, dict[str, Any]], None]:
    """For fitting the weights: each scored candidate's signals, one JSON line per stream report."""

    def dump(report: Report, row: dict[str, Any]) -> None:
        found = engine.candidate_signals(index.report_features(report))
        values_of = {incident_id: values for incident_id, values, _reasons in found}
        # Every scored candidate, in the engine's order.
        ranked = engine.score([(incident_id, values) for incident_id, values, _reasons in found])
        out = [[keys.get(incident_id), values_of[incident_id]] for incident_id, _p, _rank in ranked]
        handle.write(
            json.dumps({"report_id": row["report_id"], "incident_ids": incident_ids(row), "cands": out}) + "\n"
        )

    return dump
