"""An incident's words and phrases as the scorer reads them: sorted 64-bit hashes.

Scoring a candidate asks which of the report's terms the incident uses anywhere (the
``coverage`` and ``specific_missed`` signals). The incident's terms as strings (about 160
at a million reports, 2.3 KB of its feature row) cost more to parse than the rest of the row
together, and a match parses about a hundred rows; so the feature row holds the hashes of
the words and phrases instead (``features["hashes"]``: little-endian int64, sorted, base64),
which numpy reads without making a Python object per term, and the strings, which only the
index's writers need, live in a column of their own (``DedupIncident.terms``) that the
scorer never selects (docs/dedup.md, "The incident's terms as hashes").

The hashes are the first 8 bytes of BLAKE2b: the same in every process and every release of
Python. Two different terms share a hash with a probability of about 2^-64 a pair; with about
160 terms an incident and 100 a report that is about one wrong "shared" term in 10^15
comparisons, and a wrong one moves a signal a little, no more.
"""

import base64
import hashlib
from collections.abc import Iterable
from typing import Any

# Meaning buckets and entities go into the postings but a report's ``terms`` never hold
# them, so no score asks for them.
UNASKED = ("v:", "e:")


def _hash(term: str) -> int:
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "little", signed=True)


def hashes(terms: Iterable[str]) -> Any:
    """The terms' hashes as one int64 array, in the terms' order (the report's side)."""
    import numpy as np

    return np.fromiter((_hash(t) for t in terms), dtype=np.int64)


def encode(terms: Iterable[str]) -> str:
    """The stored form of an incident's terms: the sorted, distinct hashes of those a score can ask for."""
    import numpy as np

    values = np.unique(hashes(t for t in terms if not t.startswith(UNASKED)))
    return base64.b64encode(values.astype("<i8").tobytes()).decode("ascii")


def decode(stored: str | None) -> Any:
    """``encode`` undone: the sorted int64 hashes (none for an empty or missing value)."""
    import numpy as np

    return np.frombuffer(base64.b64decode(stored or ""), dtype="<i8").astype(np.int64, copy=False)


def contains(stored: Any, wanted: Any) -> list[bool]:
    """For each hash in ``wanted``, whether the sorted ``stored`` holds it."""
    import numpy as np

    if not len(stored):
        return [False] * len(wanted)
    at = np.minimum(np.searchsorted(stored, wanted), len(stored) - 1)
    return (stored[at] == wanted).tolist()
