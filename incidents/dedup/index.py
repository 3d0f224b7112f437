"""Keep the deduplication index (``index_models``) in step with report–incident links.

``index_report`` runs whenever a report is linked to an incident and
``unindex_report`` when a link is undone or moved by a merge; both are
idempotent and run inside the caller's transaction. ``index_bulk`` is the same
code for many links at once (imports, the benchmark, ``rebuild``); after a
large one, ``refresh_statistics`` tells PostgreSQL's planner how big the index
has grown.

Per incident the index keeps its reports' terms (``DedupIncident.terms``, and their
hashes for the scorer: ``termset``) and the features of up to ``MAX_REPORTS_KEPT``
reports; per term the
number of incidents it occurs in and, while that is at most ``MAX_POSTINGS``,
a posting per incident. A term found in more incidents than that is too common
to find candidates with, and its postings list stops growing, so a lookup reads
at most ``MAX_POSTINGS`` rows per term however large the catalogue grows.
"""

import datetime
import math
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from django.db import connection, models, transaction
from django.db.models import F
from django.utils import timezone

from incidents.models import EntityAlias, Report, ReportIncidentLink

from . import embedding, termset, vectors
from .entities import mention_keys
from .index_models import DedupIncident, DedupPosting, DedupTerm
from .text import terms as text_terms
from .text import words as text_words
from .urls import canonical_url, slug_words

MAX_POSTINGS = 2000
MAX_REPORTS_KEPT = 12
# The DedupTerm row whose df counts the indexed incidents (for the idf).
INCIDENTS_KEY = "#incidents"
BATCH = 2000


def idf(df: int, incidents: int) -> float:
    return math.log((incidents + 1) / (df + 1)) + 1.0


@dataclass
class ReportFeatures:
    """What the engine compares of one report (JSON-safe through ``as_dict``)."""

    id: int | None
    terms: list[str]
    date: str | None
    url: str
    domain: str
    entities: dict[int, str] = field(default_factory=dict)
    vec: str | None = None

    def index_terms(self) -> list[str]:
        """Terms that go into the postings: words, phrases, entities and meaning buckets."""
        extra = [f"e:{entity_id}" for entity_id in self.entities]
        if self.vec:
            extra += embedding.buckets(self.vec)
        return self.terms + extra

    def as_dict(self, norm: float) -> dict[str, Any]:
        """What the scorer reads of a kept report (``candidates.IncidentFeatures``). Its address,
        domain and entities count for the incident as a whole (``domains``, ``entities``):
        kept per report they were 5.6 % of a row at a million reports, and never read."""
        return {"id": self.id, "terms": self.terms, "norm": round(norm, 4), "date": self.date, "vec": self.vec}


def _report_parts(report: Report) -> tuple[str, str, str]:
    """(title, text, the words of its address's slug) of a report."""
    text = " ".join(part for part in (report.text, report.ai_system, report.harm) if part)
    return report.title or "", text, slug_words(report.canonical_url or report.source_url)


def _joined(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def report_text(report: Report) -> tuple[str, str]:
    """(title, the rest) of a report as the engine reads it: the rest ends with the words of
    its address's slug (``urls.slug_words``; engine 2026.12-11)."""
    title, text, slug = _report_parts(report)
    return title, _joined(text, slug)


def _embedded_text(title: str, text: str, slug: str) -> str:
    """The title, then the text, then the words of the slug that neither uses (most slugs
    repeat the title: its words again would lengthen the text, and the time it takes to
    embed, for nothing; engine 2026.12-12)."""
    used = set(text_words(f"{title} {text}"))
    new = [word for word in slug.split() if not set(text_words(word)) <= used]
    return embedding_text(title, _joined(text, " ".join(new)))


def report_embedding_text(report: Report) -> str:
    """The text of a report that is embedded (``_embedded_text``)."""
    return _embedded_text(*_report_parts(report))


def report_date(report: Report) -> datetime.date | None:
    if report.date_published or report.date_occurred:
        return report.date_published or report.date_occurred
    return report.created.date() if report.created else None


def report_domain(report: Report, url: str) -> str:
    if url:
        return urlsplit(url).hostname or ""
    return (report.publisher or "").strip().lower()


def _lookup_entities(texts_by_report: Sequence[Sequence[str]]) -> list[dict[int, str]]:
    """Entities named in each report's texts, with one alias query per batch."""
    wanted: list[dict[str, str]] = []
    for texts in texts_by_report:
        keys: dict[str, str] = {}
        for text in texts:
            for key, phrase in mention_keys(text).items():
                keys.setdefault(key, phrase)
        wanted.append(keys)
    known: dict[str, int] = _column_by_key(EntityAlias, "key", "entity_id", (key for keys in wanted for key in keys))
    found: list[dict[int, str]] = []
    for keys in wanted:
        entities: dict[int, str] = {}
        for key in sorted((k for k in keys if k in known), key=len, reverse=True):
            entities.setdefault(known[key], keys[key])
        found.append(entities)
    return found


def embedding_text(title: str, rest: str) -> str:
    """A title and the rest as one text to embed (``report_embedding_text``)."""
    return f"{title}. {rest}".strip(" .")


def report_features_many(reports: Sequence[Report], vecs: Sequence[str | None] | None = None) -> list[ReportFeatures]:
    """The features of each report; ``vecs``, when given, are their embeddings, computed already."""
    parts = [_report_parts(report) for report in reports]
    texts = [(title, _joined(text, slug)) for title, text, slug in parts]
    entities = _lookup_entities(texts)
    if vecs is None:
        vecs = embedding.embed([_embedded_text(*part) for part in parts])
    out = []
    for report, (title, rest), found, vec in zip(reports, texts, entities, vecs, strict=True):
        url = report.canonical_url or canonical_url(report.source_url)
        day = report_date(report)
        out.append(
            ReportFeatures(
                id=report.pk,
                terms=text_terms(title, rest),
                date=day.isoformat() if day else None,
                url=url,
                domain=report_domain(report, url),
                entities=found,
                vec=vec,
            )
        )
    return out


# The features of the last few reports seen: the task matches a report and then
# (auto-link, or a new incident) indexes it, and the embedding is the costly part.
_RECENT: "OrderedDict[tuple[Any, ...], ReportFeatures]" = OrderedDict()
RECENT_KEPT = 64


def _cache_key(report: Report) -> tuple[Any, ...]:
    return (
        report.pk,
        report.title,
        report.text,
        report.ai_system,
        report.harm,
        report.canonical_url,
        report.source_url,
        report.publisher,
        report_date(report),
    )


def report_features(report: Report) -> ReportFeatures:
    if report.pk is None:
        return report_features_many([report])[0]
    key = _cache_key(report)
    found = _RECENT.get(key)
    if found is None:
        found = _RECENT[key] = report_features_many([report])[0]
        while len(_RECENT) > RECENT_KEPT:
            _RECENT.popitem(last=False)
    else:
        _RECENT.move_to_end(key)
    return replace(found, terms=list(found.terms), entities=dict(found.entities))


def term_dfs(terms: Iterable[str]) -> dict[str, int]:
    """The document frequency of each of ``terms`` that is indexed (the engine's idf, the norms)."""
    return _column_by_key(DedupTerm, "term", "df", terms)


def _column_by_key(model: type[models.Model], key: str, column: str, keys: Iterable[str]) -> dict[str, Any]:
    """``{key: column}`` of the rows whose ``key`` is one of ``keys`` (thousands, in a bulk load)."""
    wanted = sorted(set(keys))
    if connection.vendor == "postgresql":
        # One array parameter instead of thousands of placeholders to build and bind.
        fields = [model._meta.get_field(name) for name in (key, column)]
        table, key_name, column_name = (
            connection.ops.quote_name(name)
            for name in (model._meta.db_table, *(str(getattr(field, "column", "")) for field in fields))
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {key_name}, {column_name} FROM {table} WHERE {key_name} = ANY(%s)",  # noqa: S608 - our names
                [wanted],
            )
            return dict(cursor.fetchall())
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), 5000):
        rows = model._default_manager.filter(**{f"{key}__in": wanted[start : start + 5000]})
        found.update(rows.values_list(key, column))
    return found


def _norm(terms: Iterable[str], dfs: dict[str, int], incidents: int) -> float:
    return math.sqrt(sum(idf(dfs.get(t, 0), incidents) ** 2 for t in terms)) or 1.0


def _add_terms(counts: dict[str, list[int]]) -> None:
    """Count each term once more per incident in ``counts`` (term -> incident ids
    that gained it) and add postings while the term is rare enough."""
    if not counts:
        return
    if connection.vendor == "postgresql":
        _add_terms_postgresql(counts)
        return
    existing = term_dfs(counts)
    new_rows = [DedupTerm(term=t, df=0) for t in counts if t not in existing]
    DedupTerm.objects.bulk_create(new_rows, ignore_conflicts=True, batch_size=BATCH)
    by_increment: dict[int, list[str]] = defaultdict(list)
    postings = []
    for term, incident_ids in counts.items():
        by_increment[len(incident_ids)].append(term)
        room = MAX_POSTINGS - existing.get(term, 0)
        postings += [DedupPosting(term=term, incident_id=i) for i in incident_ids[: max(room, 0)]]
    for increment, terms in by_increment.items():
        for start in range(0, len(terms), BATCH):
            DedupTerm.objects.filter(term__in=terms[start : start + BATCH]).update(df=F("df") + increment)
    DedupPosting.objects.bulk_create(postings, ignore_conflicts=True, batch_size=BATCH)


def _add_terms_postgresql(counts: dict[str, list[int]]) -> None:
    """``_add_terms`` in two statements: the counts upserted (in term order, so that workers
    lock rows in the same order), each returning its count before the increment, which says
    how much room its postings have; then the postings. Measured at 10 k reports: the ORM's
    model instances and placeholders took about a third of a bulk load's main thread."""
    terms = sorted(counts)
    term_table = connection.ops.quote_name(DedupTerm._meta.db_table)
    posting_table = connection.ops.quote_name(DedupPosting._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {term_table} AS t (term, df)
            SELECT term, n FROM unnest(%s::varchar[], %s::integer[]) AS u(term, n) ORDER BY term
            ON CONFLICT (term) DO UPDATE SET df = t.df + EXCLUDED.df
            RETURNING term, df
            """,  # noqa: S608 - the names are ours, the values parameters
            [terms, [len(counts[t]) for t in terms]],
        )
        before = {term: df - len(counts[term]) for term, df in cursor.fetchall()}
        posting_terms: list[str] = []
        posting_incidents: list[int] = []
        for term in terms:
            room = max(MAX_POSTINGS - before[term], 0)
            for incident_id in counts[term][:room]:
                posting_terms.append(term)
                posting_incidents.append(incident_id)
        if posting_terms:
            cursor.execute(
                f"""
                INSERT INTO {posting_table} (term, incident_id)
                SELECT * FROM unnest(%s::varchar[], %s::bigint[])
                ON CONFLICT DO NOTHING
                """,  # noqa: S608 - the names are ours, the values parameters
                [posting_terms, posting_incidents],
            )


def _remove_terms(incident_id: int, terms: list[str]) -> None:
    if not terms:
        return
    for start in range(0, len(terms), BATCH):
        chunk = terms[start : start + BATCH]
        DedupTerm.objects.filter(term__in=chunk, df__gt=0).update(df=F("df") - 1)
        DedupPosting.objects.filter(incident_id=incident_id, term__in=chunk).delete()


def _count_incidents(delta: int) -> None:
    """Add ``delta`` to the number of indexed incidents: one upsert (PostgreSQL and SQLite). A
    count that falls was counted before: its row is there (and the upsert's new row, with its
    negative count, would fail the column's check even where the key is taken)."""
    if delta < 0:
        DedupTerm.objects.filter(term=INCIDENTS_KEY).update(df=F("df") + delta)
    elif delta:
        table = connection.ops.quote_name(DedupTerm._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (term, df) VALUES (%s, %s) "  # noqa: S608 - the name is ours
                f"ON CONFLICT (term) DO UPDATE SET df = {table}.df + EXCLUDED.df",
                [INCIDENTS_KEY, delta],
            )


def indexed_incidents() -> int:
    return DedupTerm.objects.filter(term=INCIDENTS_KEY).values_list("df", flat=True).first() or 0


def _merge_into(data: dict[str, Any], bag: set[str], feats: ReportFeatures, norm: float) -> list[str]:
    """Add one report to an incident's features and its set of terms (``bag``); return the
    terms new to the incident. ``_store`` writes both into the row."""
    new_terms = []
    for term in feats.index_terms():
        if term not in bag:
            new_terms.append(term)
            bag.add(term)
    data.setdefault("ids", []).append(feats.id)
    kept: list[dict[str, Any]] = data.setdefault("reports", [])
    if len(kept) < MAX_REPORTS_KEPT:
        kept.append(feats.as_dict(norm))
    for name in ("dmin", "dmax"):
        if feats.date:
            current = data.get(name)
            better = current is None or (feats.date < current if name == "dmin" else feats.date > current)
            data[name] = feats.date if better else current
    entities: dict[str, str] = data.setdefault("entities", {})
    for entity_id, name in feats.entities.items():
        entities.setdefault(str(entity_id), name)
    domains: list[str] = data.setdefault("domains", [])
    if feats.domain and feats.domain not in domains and len(domains) < 50:
        domains.append(feats.domain)
    embedding.add_to_mean(data, feats.vec)
    return new_terms


def _store(row: DedupIncident, data: dict[str, Any], bag: set[str]) -> None:
    """Put an incident's merged features and terms into its row (not saved)."""
    data["hashes"] = termset.encode(bag)
    row.features = data
    row.terms = sorted(bag)
    row.reports = len(data["ids"])
    row.vector = vectors.to_bytes(data)


@transaction.atomic(savepoint=False)  # callers inside a transaction let its errors undo it whole
def index_report(report: Report, incident_id: int) -> None:
    """Add ``report`` to the features and postings of ``incident_id`` (no-op if already there)."""
    # One read of the (often large) row when it exists. For a new incident an insert that
    # leaves a row another worker made just now alone, then the row, locked, whoever made it.
    row = DedupIncident.objects.select_for_update().filter(incident_id=incident_id).first()
    if row is None:
        DedupIncident.objects.bulk_create([DedupIncident(incident_id=incident_id)], ignore_conflicts=True)
        row = DedupIncident.objects.select_for_update().get(incident_id=incident_id)
    data = row.features or {}
    if report.pk in data.get("ids", []):
        return
    feats = report_features(report)
    # The terms' counts and the number of incidents in one query.
    dfs = term_dfs([*feats.terms, INCIDENTS_KEY])
    incidents = dfs.pop(INCIDENTS_KEY, 0) + (0 if data.get("ids") else 1)
    norm = _norm(feats.terms, dfs, incidents)
    bag = set(row.terms or ())
    new_terms = _merge_into(data, bag, feats, norm)
    _store(row, data, bag)
    row.save()
    if row.reports == 1:
        _count_incidents(1)
    _add_terms({term: [incident_id] for term in new_terms})


@transaction.atomic
def unindex_report(report: Report, incident_id: int) -> None:
    """Take ``report`` out of the features and postings of ``incident_id`` (no-op if not there)."""
    row = DedupIncident.objects.select_for_update().filter(incident_id=incident_id).first()
    if row is None or report.pk not in row.features.get("ids", []):
        return
    remaining = [
        r
        for r in Report.objects.filter(links__incident_id=incident_id).exclude(pk=report.pk).order_by("pk")
        if r.pk in row.features["ids"]
    ]
    old_bag: list[str] = row.terms or []
    if not remaining:
        row.delete()
        _count_incidents(-1)
        _remove_terms(incident_id, list(old_bag))
        return
    # Rebuilt from the remaining reports: exact, and an incident has few reports.
    feats = report_features_many(remaining)
    dfs = term_dfs(t for f in feats for t in f.terms)
    incidents = indexed_incidents()
    data: dict[str, Any] = {}
    bag: set[str] = set()
    for f in feats:
        _merge_into(data, bag, f, _norm(f.terms, dfs, incidents))
    _store(row, data, bag)
    row.save()
    old = set(old_bag)
    _remove_terms(incident_id, [t for t in old_bag if t not in bag])
    _add_terms({t: [incident_id] for t in row.terms if t not in old})


def index_bulk(links: Iterable[tuple[Report, int]], *, batch: int = 1000) -> int:
    """Index many (report, incident id) links of incidents not indexed yet.

    The same features as ``index_report``, written with a few bulk queries per
    batch. Returns the number of links indexed. A caller loading many links calls
    ``refresh_statistics`` when done."""
    done = 0
    for chunk, vecs in _embedded_ahead(_chunks(links, batch)):
        done += _index_batch(chunk, vecs)
    return done


def _chunks(links: Iterable[tuple[Report, int]], size: int) -> Iterator[list[tuple[Report, int]]]:
    pending: list[tuple[Report, int]] = []
    for link in links:
        pending.append(link)
        if len(pending) >= size:
            yield pending
            pending = []
    if pending:
        yield pending


def _embedded_ahead(
    chunks: Iterator[list[tuple[Report, int]]],
) -> Iterator[tuple[list[tuple[Report, int]], list[str | None]]]:
    """Each chunk with its reports' embeddings, the next chunk's computed in a thread of its own
    while the caller writes this one: the model and the database writes take turns on the cores
    otherwise. The thread only embeds; every query stays on the caller's connection."""
    with ThreadPoolExecutor(1, thread_name_prefix="embed-ahead") as pool:
        ahead = None
        for chunk in chunks:
            job = pool.submit(embedding.embed, [report_embedding_text(report) for report, _incident in chunk])
            if ahead is not None:
                yield ahead[0], ahead[1].result()
            ahead = (chunk, job)
        if ahead is not None:
            yield ahead[0], ahead[1].result()


def _index_batch(links: list[tuple[Report, int]], vecs: Sequence[str | None] | None = None) -> int:
    with transaction.atomic():
        feats = report_features_many([report for report, _incident in links], vecs)
        incident_ids = sorted({incident_id for _report, incident_id in links})
        rows = {row.incident_id: row for row in DedupIncident.objects.filter(incident_id__in=incident_ids)}
        new_ids = [i for i in incident_ids if i not in rows]
        incidents = indexed_incidents() + len(new_ids)
        dfs = term_dfs(t for f in feats for t in f.terms)
        gained: dict[str, list[int]] = defaultdict(list)
        # Terms seen in this batch count towards the idf of the norms, like one by one.
        batch_df: dict[str, set[int]] = defaultdict(set)
        for f, (_report, incident_id) in zip(feats, links, strict=True):
            for term in f.terms:
                batch_df[term].add(incident_id)
        merged_dfs = {t: dfs.get(t, 0) + len(ids) for t, ids in batch_df.items()}
        bags: dict[int, set[str]] = {}
        for f, (_report, incident_id) in zip(feats, links, strict=True):
            row = rows.get(incident_id)
            if row is None:
                row = rows[incident_id] = DedupIncident(incident_id=incident_id, features={}, terms=[])
            if f.id in row.features.get("ids", []):
                continue
            bag = bags.get(incident_id)
            if bag is None:
                bag = bags[incident_id] = set(row.terms or ())
            for term in _merge_into(row.features, bag, f, _norm(f.terms, merged_dfs, incidents)):
                gained[term].append(incident_id)
        now = timezone.now()
        for incident_id, bag in bags.items():
            row = rows[incident_id]
            _store(row, row.features, bag)
            row.modified = now
        if new_ids:
            DedupIncident.objects.bulk_create([rows[i] for i in new_ids], batch_size=BATCH)
        # Rows whose reports were all indexed already are left as they are.
        old = [rows[i] for i in incident_ids if i in bags and i not in new_ids]
        if old:
            DedupIncident.objects.bulk_update(
                old, ["features", "terms", "reports", "vector", "modified"], batch_size=500
            )
        _count_incidents(len(new_ids))
        _add_terms(gained)
    return len(links)


def rebuild() -> int:
    """Empty the index and fill it again from every report–incident link. Returns links indexed."""
    with transaction.atomic():
        DedupPosting.objects.all().delete()
        DedupTerm.objects.all().delete()
        DedupIncident.objects.all().delete()
    vectors.clear()
    links = (
        ReportIncidentLink.objects.select_related("report")
        .exclude(incident__status="merged")
        .order_by("incident_id", "report_id")
        .iterator(chunk_size=BATCH)
    )
    done = index_bulk((link.report, link.incident_id) for link in links)
    refresh_statistics()
    return done


def refresh_statistics(*, whole_database: bool = False) -> None:
    """ANALYZE (and VACUUM) the index's tables, or every table, on PostgreSQL, after a bulk load.

    Candidate generation reads the postings of about 40 terms through the (term,
    incident) key. Until the planner has statistics, which autovacuum gathers only
    later, or never where it is off, PostgreSQL scans every posting instead:
    measured at 100 k reports (3.3 M postings), 186 ms against 21 ms for the
    query, 212 ms against 75 ms per match (docs/dedup.md). Outside a transaction
    it VACUUMs them too, as autovacuum would: the visibility map lets that query
    read the postings' key alone (9-10 ms against 17-22 ms at 100 k). SQLite plans
    by its indexes without statistics and is left alone."""
    if connection.vendor != "postgresql":
        return
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"  # VACUUM needs autocommit
    tables = [connection.ops.quote_name(m._meta.db_table) for m in (DedupTerm, DedupPosting, DedupIncident)]
    with connection.cursor() as cursor:
        for statement in [command] if whole_database else [f"{command} {table}" for table in tables]:
            cursor.execute(statement)
