"""The taxonomy as a per-process table: every term by id with what the API needs of it
(code, label, vocabulary, order, parent, MIT crosswalk codes). Reloaded when the
taxonomy's fingerprint changes (``api.versions.taxonomy_stamp``, cached a minute), so
pages, filters and stats look terms up without a query each."""

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from taxonomy.models import Mapping, Term

from .versions import taxonomy_stamp


@dataclass(frozen=True)
class TermInfo:
    code: str
    label: str
    vocabulary: str
    order: tuple[int, int]
    parent_id: int | None = None
    mit: tuple[str, ...] = field(default=())


_terms: dict[str, Any] = {"version": None, "table": {}}
_terms_lock = threading.Lock()


def term_table() -> dict[int, TermInfo]:
    """Every term by id, with its MIT crosswalk codes; reloaded when the taxonomy's version changes."""
    version = taxonomy_stamp()
    if _terms["version"] == version:
        return _terms["table"]
    with _terms_lock:
        mit: dict[int, list[str]] = defaultdict(list)
        for source_id, code in Mapping.objects.filter(target__vocabulary__code="mit-ai-risk").values_list(
            "source_id", "target__code"
        ):
            mit[source_id].append(code)
        rows = Term.objects.values_list(
            "pk", "code", "label", "vocabulary__code", "vocabulary__sort_order", "sort_order", "parent_id"
        )
        table = {
            pk: TermInfo(code, label, vocabulary, (vocabulary_order, order), parent, tuple(sorted(mit.get(pk, ()))))
            for pk, code, label, vocabulary, vocabulary_order, order, parent in rows
        }
        _terms.update(version=version, table=table)
    return table


def term_ids(table: dict[int, TermInfo], vocabulary: str) -> dict[str, int]:
    """Code → id of one vocabulary's terms."""
    return {t.code: pk for pk, t in table.items() if t.vocabulary == vocabulary}
