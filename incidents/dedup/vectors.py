"""Semantic candidates: the incidents whose mean embedding is nearest a report's.

The inverted index finds incidents that share words with a report; a repeat
written in other words ("The People Onscreen Are Fake" for "Deepfake
newsreaders") shares none, and the meaning buckets among the index terms are too
coarse to rank. So candidate generation also asks this module for the
``k`` incidents nearest in meaning: the cosine of the report's vector with each
incident's mean report vector, exact, over every indexed incident.

The vectors live in the database (``DedupIncident.vector``, 384 bytes, written
with the rest of the incident's features), so every worker shares them and they
survive restarts. Each process keeps them as one float32 matrix, loaded on first
use and brought up to date before every lookup by reading the rows modified
since the last one (an indexed query that returns a handful of rows); a full
reload every ``RELOAD_SECONDS`` drops incidents that left the index. A lookup is
one matrix–vector product: measured in docs/dedup.md ("Semantic candidates").
The matrix takes 1.5 KB per incident (about 38 MB at 100 k reports).
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


@dataclass
class _Matrix:
    alias: str = ""
    ids: Any = None  # int64 incident ids, one per row
    rows: Any = None  # float32 (capacity, DIM), the first ``size`` rows used
    size: int = 0
    where: dict[int, int] = field(default_factory=dict)
    since: Any = None  # datetime: rows modified from here on are read at the next refresh
    loaded: float = 0.0


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


def _put(m: _Matrix, incident_id: int, vector: bytes | None) -> None:
    import numpy as np

    row = np.zeros(embedding.DIM, dtype=np.float32) if vector is None else embedding.dequantise(bytes(vector))
    at = m.where.get(incident_id)
    if at is None:
        if m.size == len(m.ids):
            grown = max(1024, 2 * m.size)
            m.ids = np.resize(m.ids, grown)
            m.rows = np.concatenate([m.rows, np.zeros((grown - m.size, embedding.DIM), dtype=np.float32)])
        at = m.where[incident_id] = m.size
        m.ids[at] = incident_id
        m.size += 1
    m.rows[at] = row


def _refresh() -> _Matrix:
    import numpy as np

    global _matrix
    m = _matrix
    started = timezone.now()
    full = m.alias != connection.alias or m.since is None or time.monotonic() - m.loaded > RELOAD_SECONDS
    if full:
        m = _Matrix(
            alias=connection.alias, ids=np.zeros(0, dtype=np.int64), rows=np.zeros((0, embedding.DIM), dtype=np.float32)
        )
        m.loaded = time.monotonic()
        changed = DedupIncident.objects.all()
    else:
        changed = DedupIncident.objects.filter(modified__gte=m.since)
    for incident_id, vector in changed.values_list("incident_id", "vector").iterator(chunk_size=5000):
        _put(m, incident_id, vector)
    m.since = started - datetime.timedelta(seconds=SLACK_SECONDS)
    _matrix = m
    return m


def nearest(vec: str | None, k: int) -> list[tuple[int, float]]:
    """The ``k`` indexed incidents nearest ``vec`` in meaning, (incident id, cosine), best first."""
    if not vec or k <= 0:
        return []
    import numpy as np

    with _lock:
        m = _refresh()
        if not m.size:
            return []
        cosines = m.rows[: m.size] @ embedding.decode(vec)
        k = min(k, m.size)
        top = np.argpartition(-cosines, k - 1)[:k]
        # Best first; equal cosines by incident id, so runs repeat exactly.
        top = top[np.lexsort((m.ids[top], -cosines[top]))]
        return [(int(m.ids[i]), float(cosines[i])) for i in top if cosines[i] > 0]
