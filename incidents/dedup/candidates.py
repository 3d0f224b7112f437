"""The candidates' stored features, ready to score, kept by each process.

Scoring a report reads the features of about a hundred candidate incidents
(``DedupIncident.features``: each kept report's terms, dates and embedding, the
hashes of the incident's terms). Fetching and parsing that JSON was the largest single
cost of a match (25 ms of 63 ms on PostgreSQL, seed 3; docs/dedup.md, "Where a
match's time goes"), and most candidates come back report after report: the
big incidents share words with everything.

So each process keeps the parsed form (``IncidentFeatures``, with the
embeddings kept int8, as stored) of the incidents it scored last, and asks the
database only for what changed: one query compares the candidates'
``modified`` stamps (every write of an incident's features sets it) with the
kept ones and sends only the rows that changed, or were never seen (two
queries where the database is not PostgreSQL). A kept incident is used only
while its stamp is the one in the database, so scoring reads exactly what is
stored. At most ``KEPT`` incidents are kept, the least recently used
dropped first.
"""

import datetime
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import connection

from incidents.models import Incident

from . import embedding, termset
from .index_models import DedupIncident

# About 24 KB each, parsed (measured on seed 3's 1,279 incidents, 3.3 reports each on
# average; 27 KB while the embeddings were kept as floats), before the incident's terms were
# kept as hashes, which took the peak RSS of the benchmark's stream at 1 M from 888 to about
# 847 MB: 5,000 take under 120 MB. A report's candidates are about a hundred incidents.
KEPT = 5_000


def _day(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class StoredReport:
    id: int | None
    terms: tuple[str, ...]
    norm: float
    date: datetime.date | None


@dataclass(frozen=True, slots=True)
class IncidentFeatures:
    """One incident's stored features as ``engine.signals`` reads them.

    Tuples and slots, not lists and instance dicts: a process keeps thousands of these
    (``KEPT``), and the garbage collector walks every list it holds at each full
    collection, while a tuple of strings it stops tracking. With lists a full collection
    in a worker holding 5,000 took about 140 ms (docs/dedup.md, "The garbage collector")."""

    reports: tuple[StoredReport, ...]
    vec_ids: tuple[int | None, ...]  # the kept reports that have an embedding, in order
    quantised: Any  # their embeddings as stored: int8 (len(vec_ids), DIM), or None (``vecs``)
    mean: Any  # the normalised mean embedding, or None
    hashes: Any  # the incident's words and phrases: sorted int64 hashes (``termset``)
    first: datetime.date | None  # the span of the incident's report dates
    last: datetime.date | None
    entities: dict[str, str]
    domains: tuple[str, ...]
    size: int  # reports in the incident (not only the kept ones)

    @property
    def vecs(self) -> Any:
        """The kept reports' embeddings, decoded: float32 (len(vec_ids), DIM), or None."""
        return None if self.quantised is None else embedding.dequantise_rows(self.quantised)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "IncidentFeatures":
        """The parsed form, kept small (see ``KEPT``): the embeddings stay int8, as stored,
        until a score uses them (a quarter of the memory of their floats)."""
        kept = data.get("reports", [])
        with_vec = [s for s in kept if s.get("vec")]
        return cls(
            reports=tuple(
                StoredReport(
                    id=s.get("id"), terms=tuple(s["terms"]), norm=s.get("norm") or 1.0, date=_day(s.get("date"))
                )
                for s in kept
            ),
            vec_ids=tuple(s["id"] for s in with_vec),
            quantised=embedding.quantised_many([s["vec"] for s in with_vec]) if with_vec else None,
            mean=embedding.mean_vector(data),
            hashes=termset.decode(data.get("hashes")),
            first=_day(data.get("dmin")),
            last=_day(data.get("dmax")),
            entities=data.get("entities", {}),
            domains=tuple(data.get("domains", ())),
            size=len(data.get("ids", [])),
        )


@dataclass
class _Kept:
    alias: str = ""
    # incident id -> (its row's ``modified`` when read, in microseconds; its features), least recently used first
    rows: "OrderedDict[int, tuple[int, IncidentFeatures]]" = field(default_factory=OrderedDict)
    asked: int = 0  # incidents returned, and how many of them had to be read
    read: int = 0


_kept = _Kept()
_lock = threading.Lock()


def clear() -> None:
    """Forget every kept incident."""
    global _kept
    with _lock:
        _kept = _Kept()


def features(incident_ids: Iterable[int]) -> dict[int, IncidentFeatures]:
    """The features of those of ``incident_ids`` that are indexed and not merged away."""
    global _kept
    wanted = list(dict.fromkeys(incident_ids))
    if not wanted:
        return {}
    with _lock:
        if _kept.alias != connection.alias:
            _kept = _Kept(alias=connection.alias)
        kept = _kept.rows
        # The entries themselves: another thread may drop them from ``kept`` meanwhile.
        held = {i: kept[i] for i in wanted if i in kept}
    found: dict[int, tuple[int, IncidentFeatures]] = {}
    read = 0
    for incident_id, stamp, data in _rows(wanted, {i: entry[0] for i, entry in held.items()}):
        if data is None:
            found[incident_id] = held[incident_id]
        else:
            found[incident_id] = (stamp, IncidentFeatures.from_dict(data))
            read += 1
    with _lock:
        for incident_id, entry in found.items():
            kept[incident_id] = entry
            kept.move_to_end(incident_id)
        while len(kept) > KEPT:
            kept.popitem(last=False)
        _kept.asked += len(found)
        _kept.read += read
    return {incident_id: entry[1] for incident_id, entry in found.items()}


def _rows(incident_ids: list[int], held: dict[int, int]) -> Iterator[tuple[int, int, dict[str, Any] | None]]:
    """(incident id, ``modified`` in microseconds since 1970, features) of each of
    ``incident_ids`` that is indexed and not merged away; the features ``None`` where ``held``
    has the incident at that very stamp.

    On PostgreSQL one query in SQL of our own, with array parameters: the stamps are compared
    in the database and only the rows that changed, or were never seen, are sent (and
    decompressed). The ORM's filter, with a placeholder for each of a report's hundred-odd
    candidates, cost about as much Python again as the query, and integers are quicker to send
    and read back than timestamps (docs/dedup.md, "One query for the candidates' rows").
    Elsewhere two: the stamps, then the rows that changed."""
    if connection.vendor != "postgresql":
        rows = DedupIncident.objects.filter(incident_id__in=incident_ids).exclude(
            incident__status=Incident.Status.MERGED
        )
        stamps = {i: _micros(modified) for i, modified in rows.values_list("incident_id", "modified")}
        stale = {i for i, stamp in stamps.items() if held.get(i) != stamp}
        fetched = (
            DedupIncident.objects.filter(incident_id__in=stale).values_list("incident_id", "modified", "features")
            if stale
            else []
        )
        yield from ((i, _micros(modified), data) for i, modified, data in fetched)
        # An incident rewritten or dropped between the two queries is read next time.
        yield from ((i, stamp, None) for i, stamp in stamps.items() if i not in stale)
        return
    quote = connection.ops.quote_name
    dedup, incidents = quote(DedupIncident._meta.db_table), quote(Incident._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT d.incident_id, s.micros, CASE WHEN k.micros IS DISTINCT FROM s.micros THEN d.features END
            FROM {dedup} d
            JOIN {incidents} i ON i.id = d.incident_id
            CROSS JOIN LATERAL (SELECT (EXTRACT(EPOCH FROM d.modified) * 1000000)::bigint AS micros) s
            LEFT JOIN unnest(%s::bigint[], %s::bigint[]) AS k(incident_id, micros) ON k.incident_id = d.incident_id
            WHERE d.incident_id = ANY(%s) AND i.status <> %s
            """,  # noqa: S608 - the names are ours, the values parameters
            [list(held), list(held.values()), incident_ids, Incident.Status.MERGED],
        )
        for incident_id, modified, text in cursor.fetchall():
            yield incident_id, modified, None if text is None else orjson.loads(text)


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _micros(stamp: datetime.datetime) -> int:
    """A ``modified`` stamp as the whole microseconds since 1970 (exact, as PostgreSQL counts them)."""
    return (stamp - _EPOCH) // datetime.timedelta(microseconds=1)


def read_share() -> float | None:
    """The share of the incidents returned since the last ``clear`` that were read from
    the database rather than kept (the benchmark prints it)."""
    return _kept.read / _kept.asked if _kept.asked else None
