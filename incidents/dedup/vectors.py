"""Semantic candidates: the incidents whose mean embedding is nearest a report's.

The inverted index finds incidents that share words with a report; a repeat
written in other words ("The People Onscreen Are Fake" for "Deepfake
newsreaders") shares none, and the meaning buckets among the index terms are too
coarse to rank. So candidate generation also asks this module for the
``k`` incidents nearest in meaning: the cosine of the report's vector with each
incident's mean report vector, over every indexed incident.

The vectors live in the database (``DedupIncident.vector``, 384 bytes, written
with the rest of the incident's features), so every worker shares them and they
survive restarts. Each process keeps them as one float32 matrix, loaded on first
use and brought up to date before every lookup by reading the rows modified
since the last one (an indexed query that returns a handful of rows); a full
reload every ``RELOAD_SECONDS`` drops incidents that left the index. Up to
``COARSE_FROM`` incidents a lookup is one exact matrix–vector product: measured in
docs/dedup.md ("Semantic candidates").
The matrix takes 1.5 KB per incident (about 38 MB at 100 k reports).

From ``COARSE_FROM`` incidents on, that product is the cost (at a million
reports 222 k vectors, 341 MB of floats read per lookup: about 22 ms), so a
lookup first scores every incident in a ``COARSE_DIM``-dimensional projection
of the vectors (their leading principal directions, uncentred, from a sample
taken by incident id, so the same catalogue gives the same projection) and
then the ``PRESELECT`` best exactly. The projection is made at each full load
and kept with the matrix (256 bytes more per incident); rows read later are
projected with it. Processes that loaded at different moments may preselect
slightly differently (docs/dedup.md, "Runs repeat exactly"). Measured in
docs/dedup.md ("A million reports").
"""

import datetime
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone

from . import embedding
from .index_models import DedupIncident

# Rows modified this long before the last refresh began are read again: a
# transaction that wrote a row earlier may commit after the refresh.
SLACK_SECONDS = 10
RELOAD_SECONDS = 600
# The coarse pass (see above): from this many incidents, in this many dimensions, then this
# many rescored exactly; the projection is fitted on about COARSE_SAMPLE vectors.
COARSE_FROM = 50_000
COARSE_DIM = 64
PRESELECT = 3_000
COARSE_SAMPLE = 20_000


@dataclass
class _Matrix:
    alias: str = ""
    ids: Any = None  # int64 incident ids, one per row
    rows: Any = None  # float32 (capacity, DIM), the first ``size`` rows used
    size: int = 0
    where: dict[int, int] = field(default_factory=dict)
    since: Any = None  # datetime: rows modified from here on are read at the next refresh
    loaded: float = 0.0
    basis: Any = None  # float32 (DIM, COARSE_DIM): the coarse pass's projection, or None
    low: Any = None  # float32 (capacity, COARSE_DIM): the rows projected with ``basis``
    # int64, indexed by incident id: each loaded incident's number of reports
    # (``DedupIncident.reports``, -1 for an id not loaded), which the postings' ranking divides
    # by (``sizes``). By id rather than by row: a lookup is one vectorised read.
    reports: Any = None

    @classmethod
    def empty(cls, alias: str = "") -> "_Matrix":
        import numpy as np

        return cls(
            alias=alias,
            ids=np.zeros(0, dtype=np.int64),
            rows=np.zeros((0, embedding.DIM), dtype=np.float32),
            reports=np.zeros(0, dtype=np.int64),
        )


_matrix = _Matrix()
_lock = threading.Lock()


def clear() -> None:
    """Forget the vectors (the next lookup loads them again)."""
    global _matrix
    with _lock:
        _matrix = _Matrix()


def to_bytes(data: dict[str, Any]) -> bytes | None:
    """The stored form of an incident's mean vector: L2-normalised, int8."""
    mean = embedding.mean_vector(data)
    return None if mean is None else bytes(embedding.quantise(mean).tobytes())


def as_bytes(value: bytes | memoryview | None) -> bytes | None:
    """A stored vector as bytes (PostgreSQL returns a binary column as a memoryview)."""
    return None if value is None else bytes(value)


def _put(m: _Matrix, incident_id: int, vector: bytes | None, reports: int = 0) -> None:
    import numpy as np

    row = np.zeros(embedding.DIM, dtype=np.float32) if vector is None else embedding.dequantise(bytes(vector))
    at = m.where.get(incident_id)
    if at is None:
        if m.size == len(m.ids):
            grown = max(1024, 2 * m.size)
            m.ids = np.resize(m.ids, grown)
            m.rows = _grown(m.rows, grown)
            if m.low is not None:
                m.low = _grown(m.low, grown)
        at = m.where[incident_id] = m.size
        m.ids[at] = incident_id
        m.size += 1
    m.rows[at] = row
    if incident_id >= len(m.reports):
        m.reports = np.concatenate(
            [m.reports, np.full(max(1024, 2 * incident_id + 2 - len(m.reports)), -1, dtype=np.int64)]
        )
    m.reports[incident_id] = reports
    if m.basis is not None:
        m.low[at] = row @ m.basis


def _grown(matrix: Any, capacity: int) -> Any:
    """``matrix`` with zero rows added up to ``capacity``."""
    import numpy as np

    return np.concatenate([matrix, np.zeros((capacity - len(matrix), matrix.shape[1]), dtype=matrix.dtype)])


def _project(m: _Matrix) -> None:
    """Fit the coarse pass's projection on a sample of the rows, and project them all."""
    import numpy as np

    order = np.argsort(m.ids[: m.size], kind="stable")
    sample = m.rows[order[:: max(1, m.size // COARSE_SAMPLE)]]
    # The leading eigenvectors of the (uncentred) second moment: the directions that keep the
    # most of the inner products (eigh sorts them ascending).
    _values, directions = np.linalg.eigh(sample.T.astype(np.float64) @ sample)
    m.basis = np.ascontiguousarray(directions[:, ::-1][:, :COARSE_DIM], dtype=np.float32)
    m.low = np.zeros((len(m.ids), COARSE_DIM), dtype=np.float32)
    m.low[: m.size] = m.rows[: m.size] @ m.basis


def _refresh() -> _Matrix:
    global _matrix
    m = _matrix
    started = timezone.now()
    full = m.alias != connection.alias or m.since is None or time.monotonic() - m.loaded > RELOAD_SECONDS
    if full:
        m = _Matrix.empty(connection.alias)
        m.loaded = time.monotonic()
        changed = DedupIncident.objects.all()
    else:
        changed = DedupIncident.objects.filter(modified__gte=m.since)
    rows = changed.values_list("incident_id", "vector", "reports")
    # A full load streams the rows; a refresh reads a handful in one query (a server-side
    # cursor would take three round trips before every lookup).
    for incident_id, vector, reports in rows.iterator(chunk_size=5000) if full else rows:
        _put(m, incident_id, vector, reports)
    if m.basis is None and m.size >= COARSE_FROM:
        _project(m)
    m.since = started - datetime.timedelta(seconds=SLACK_SECONDS)
    _matrix = m
    return m


def nearest(vec: str | None, k: int) -> list[tuple[int, float]]:
    """The ``k`` indexed incidents nearest ``vec`` in meaning, (incident id, cosine), best first.

    Brings the loaded vectors and report counts up to date even for a report with no vector:
    ``sizes`` and ``cosines`` read them as loaded."""
    if k <= 0:
        return []
    with _lock:
        m = _refresh()
        if not vec or not m.size:
            return []
        return _search(m, embedding.decode(vec), k)


def sizes(incident_ids: Any) -> Any:
    """The number of reports of each of ``incident_ids`` (int64 array) as loaded, -1 for one not
    loaded (call after ``nearest``, which brings them up to date; with nothing loaded yet they
    are loaded).

    Held here, beside the vectors, so that the postings' ranking divides by them in the
    process: in SQL it read each of up to 2,000 grouped incidents' rows by its key, per
    lookup (docs/dedup.md, "The postings' ranking in the process"). An incident another
    worker indexed after the last refresh began is not loaded yet: like its vector, it is
    there from the next lookup on (``SLACK_SECONDS``)."""
    import numpy as np

    with _lock:
        m = _matrix if _matrix.alias == connection.alias and _matrix.since is not None else _refresh()
        ids = np.asarray(incident_ids, dtype=np.int64)
        inside = ids < len(m.reports)
        return np.where(inside, m.reports[np.where(inside, ids, 0)], -1)


def cosines(vec: str | None, incident_ids: list[int]) -> dict[int, float]:
    """The cosine of ``vec`` with each of ``incident_ids``' vectors as loaded (call after ``nearest``)."""
    if not vec or not incident_ids:
        return {}
    import numpy as np

    with _lock:
        m = _matrix
        known = [(i, m.where[i]) for i in incident_ids if i in m.where]
        if not known:
            return {}
        values = m.rows[np.array([at for _i, at in known])] @ embedding.decode(vec)
        return {i: float(v) for (i, _at), v in zip(known, values, strict=True)}


def _search(m: _Matrix, q: Any, k: int) -> list[tuple[int, float]]:
    import numpy as np

    if m.basis is not None and m.size > PRESELECT:
        coarse = m.low[: m.size] @ (q @ m.basis)
        rows = np.sort(np.argpartition(-coarse, PRESELECT - 1)[:PRESELECT])
        cosines, ids = m.rows[rows] @ q, m.ids[rows]
    else:
        cosines, ids = m.rows[: m.size] @ q, m.ids[: m.size]
    k = min(k, len(ids))
    top = np.argpartition(-cosines, k - 1)[:k]
    # Best first; equal cosines by incident id, so runs repeat exactly.
    top = top[np.lexsort((ids[top], -cosines[top]))]
    return [(int(ids[i]), float(cosines[i])) for i in top if cosines[i] > 0]
