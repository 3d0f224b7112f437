"""Load the vocabularies, terms and crosswalks from ``taxonomy/data/taxonomy.json``.

The load is an idempotent upsert by natural key (vocabulary code; vocabulary and
term code), so it can run in a data migration, from ``manage.py load_taxonomy``
and again after every edit of the file. Terms are never deleted: records point
at them, and a code, once published, must keep resolving. A term that is
dropped from the file stays as it is; retire it with ``deprecated_by`` instead.

The model classes are parameters so that a data migration can pass the
historical models from ``apps.get_model``.
"""

import json
import re
from collections.abc import Iterable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction

from taxonomy import models as taxonomy_models

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "taxonomy.json"
FORMAT = 1

# Historical models from a migration are not the classes in taxonomy.models,
# so the loader can only rely on their shared shape.
ModelClass = Any

_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
_SMALLINT_MAX = 32767

_TOP_KEYS = {"format", "vocabularies", "crosswalks"}
_VOCABULARY_KEYS = {"code", "name", "version", "description", "multiple", "source", "sort_order", "terms"}
_TERM_KEYS = {"code", "label", "definition", "parent", "deprecated_by", "unconfirmed", "sort_order"}
_CROSSWALK_KEYS = {"source_vocabulary", "target_vocabulary", "version", "pairs"}

COUNT_KEYS = (
    "vocabularies_created",
    "vocabularies_updated",
    "vocabularies_unchanged",
    "terms_created",
    "terms_updated",
    "terms_unchanged",
    "terms_not_in_file",
    "mappings_created",
    "mappings_updated",
    "mappings_unchanged",
    "mappings_deleted",
)


@dataclass(frozen=True)
class TermSpec:
    code: str
    label: str
    definition: str
    parent: str | None
    deprecated_by: str | None
    unconfirmed: bool
    sort_order: int


@dataclass(frozen=True)
class VocabularySpec:
    code: str
    name: str
    version: str
    description: str
    multiple: bool
    source: str
    sort_order: int
    terms: tuple[TermSpec, ...]


@dataclass(frozen=True)
class CrosswalkSpec:
    source_vocabulary: str
    target_vocabulary: str
    version: str
    pairs: tuple[tuple[str, str], ...]


# --- Validation ---------------------------------------------------------------


def _check_keys(obj: Any, allowed: set[str], required: set[str], where: str) -> None:
    if not isinstance(obj, AbcMapping):
        raise ValueError(f"{where}: expected an object, got {type(obj).__name__}")
    # Unknown keys are refused so that a typo ("lable") fails loudly instead of being ignored.
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
    missing = sorted(required - set(obj))
    if missing:
        raise ValueError(f"{where}: missing key(s) {', '.join(map(repr, missing))}")


def _str(obj: AbcMapping[str, Any], key: str, where: str, *, max_length: int | None = None, default: str = "") -> str:
    value = obj.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{where}: {key!r} must be a string")
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"{where}: {key!r} is longer than {max_length} characters")
    return value


def _code(obj: AbcMapping[str, Any], key: str, where: str, *, max_length: int) -> str:
    value = _str(obj, key, where, max_length=max_length)
    if not value or value != value.strip() or any(ch.isspace() for ch in value):
        raise ValueError(f"{where}: {key!r} must be a non-empty code without spaces, got {value!r}")
    return value


def _optional_code(obj: AbcMapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: {key!r} must be a term code or null")
    return value


def _bool(obj: AbcMapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{where}: {key!r} must be true or false")
    return value


def _sort_order(obj: AbcMapping[str, Any], where: str, default: int) -> int:
    value = obj.get("sort_order", default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _SMALLINT_MAX:
        raise ValueError(f"{where}: 'sort_order' must be an integer from 0 to {_SMALLINT_MAX}")
    return value


def _max_length(model: ModelClass, field: str) -> int:
    return int(model._meta.get_field(field).max_length)


def _parse_terms(raw_terms: Any, vocabulary_code: str, Term: ModelClass) -> tuple[TermSpec, ...]:
    where = f"vocabulary {vocabulary_code!r}"
    if not isinstance(raw_terms, list):
        raise ValueError(f"{where}: 'terms' must be a list")
    terms: dict[str, TermSpec] = {}
    for index, raw in enumerate(raw_terms):
        _check_keys(raw, _TERM_KEYS, {"code", "label"}, f"{where}, term #{index + 1}")
        code = _code(raw, "code", f"{where}, term #{index + 1}", max_length=_max_length(Term, "code"))
        term_where = f"term {code!r} in vocabulary {vocabulary_code!r}"
        if code in terms:
            raise ValueError(f"duplicate term code {code!r} in vocabulary {vocabulary_code!r}")
        label = _str(raw, "label", term_where, max_length=_max_length(Term, "label"))
        if not label.strip():
            raise ValueError(f"{term_where}: 'label' must not be empty")
        terms[code] = TermSpec(
            code=code,
            label=label,
            definition=_str(raw, "definition", term_where),
            parent=_optional_code(raw, "parent", term_where),
            deprecated_by=_optional_code(raw, "deprecated_by", term_where),
            unconfirmed=_bool(raw, "unconfirmed", term_where, False),
            # List order is the display order unless the file says otherwise.
            sort_order=_sort_order(raw, term_where, index),
        )

    for term in terms.values():
        term_where = f"term {term.code!r} in vocabulary {vocabulary_code!r}"
        if term.parent is not None and term.parent not in terms:
            raise ValueError(f"{term_where}: unknown parent {term.parent!r}")
        if term.deprecated_by is not None:
            if term.deprecated_by not in terms:
                raise ValueError(f"{term_where}: unknown deprecated_by {term.deprecated_by!r}")
            if term.deprecated_by == term.code:
                raise ValueError(f"{term_where}: a term cannot be deprecated by itself")
        # A parent cycle would make descendant walks loop forever.
        seen = {term.code}
        ancestor = term.parent
        while ancestor is not None:
            if ancestor in seen:
                raise ValueError(f"{term_where}: parent cycle through {ancestor!r}")
            seen.add(ancestor)
            ancestor = terms[ancestor].parent
    return tuple(terms.values())


def parse_taxonomy(
    data: Any,
    *,
    Vocabulary: ModelClass = taxonomy_models.Vocabulary,
    Term: ModelClass = taxonomy_models.Term,
    Mapping: ModelClass = taxonomy_models.Mapping,
) -> tuple[tuple[VocabularySpec, ...], tuple[CrosswalkSpec, ...]]:
    """Check the whole file before anything is written; raise ValueError naming the offending code."""
    _check_keys(data, _TOP_KEYS, {"vocabularies"}, "taxonomy file")
    if data.get("format", FORMAT) != FORMAT:
        raise ValueError(f"taxonomy file: unsupported format {data.get('format')!r} (expected {FORMAT})")
    raw_vocabularies = data["vocabularies"]
    if not isinstance(raw_vocabularies, list):
        raise ValueError("taxonomy file: 'vocabularies' must be a list")

    vocabularies: dict[str, VocabularySpec] = {}
    for index, raw in enumerate(raw_vocabularies):
        _check_keys(raw, _VOCABULARY_KEYS, {"code", "name", "version", "terms"}, f"vocabulary #{index + 1}")
        code = _code(raw, "code", f"vocabulary #{index + 1}", max_length=_max_length(Vocabulary, "code"))
        if not _SLUG.match(code):
            raise ValueError(f"vocabulary {code!r}: code must contain only letters, digits, '-' and '_'")
        if code in vocabularies:
            raise ValueError(f"duplicate vocabulary code {code!r}")
        where = f"vocabulary {code!r}"
        version = _str(raw, "version", where, max_length=_max_length(Vocabulary, "version"))
        if not version.strip():
            raise ValueError(f"{where}: 'version' must not be empty")
        vocabularies[code] = VocabularySpec(
            code=code,
            name=_str(raw, "name", where, max_length=_max_length(Vocabulary, "name")),
            version=version,
            description=_str(raw, "description", where),
            multiple=_bool(raw, "multiple", where, True),
            source=_str(raw, "source", where),
            sort_order=_sort_order(raw, where, index),
            terms=_parse_terms(raw["terms"], code, Term),
        )

    raw_crosswalks = data.get("crosswalks", [])
    if not isinstance(raw_crosswalks, list):
        raise ValueError("taxonomy file: 'crosswalks' must be a list")
    crosswalks: dict[tuple[str, str], CrosswalkSpec] = {}
    for index, raw in enumerate(raw_crosswalks):
        where = f"crosswalk #{index + 1}"
        _check_keys(raw, _CROSSWALK_KEYS, _CROSSWALK_KEYS, where)
        source_code = _str(raw, "source_vocabulary", where)
        target_code = _str(raw, "target_vocabulary", where)
        where = f"crosswalk {source_code!r} -> {target_code!r}"
        for vocabulary_code in (source_code, target_code):
            if vocabulary_code not in vocabularies:
                raise ValueError(f"{where}: unknown vocabulary {vocabulary_code!r}")
        if (source_code, target_code) in crosswalks:
            raise ValueError(f"duplicate crosswalk {source_code!r} -> {target_code!r}")
        source_terms = {t.code for t in vocabularies[source_code].terms}
        target_terms = {t.code for t in vocabularies[target_code].terms}
        raw_pairs = raw["pairs"]
        if not isinstance(raw_pairs, list):
            raise ValueError(f"{where}: 'pairs' must be a list")
        pairs: list[tuple[str, str]] = []
        for pair in raw_pairs:
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(c, str) for c in pair)):
                raise ValueError(f"{where}: each pair must be [source code, target code], got {pair!r}")
            source, target = pair
            if source not in source_terms:
                raise ValueError(f"{where}: unknown source term {source!r}")
            if target not in target_terms:
                raise ValueError(f"{where}: unknown target term {target!r}")
            if (source, target) in pairs:
                raise ValueError(f"{where}: duplicate pair {source!r} -> {target!r}")
            pairs.append((source, target))
        version = _str(raw, "version", where, max_length=_max_length(Mapping, "version"))
        if not version.strip():
            raise ValueError(f"{where}: 'version' must not be empty")
        crosswalks[(source_code, target_code)] = CrosswalkSpec(
            source_vocabulary=source_code, target_vocabulary=target_code, version=version, pairs=tuple(pairs)
        )
    return tuple(vocabularies.values()), tuple(crosswalks.values())


# --- Writing ------------------------------------------------------------------


def _apply(obj: Any, values: AbcMapping[str, Any]) -> list[str]:
    """Set the values that differ; return the names of the fields that changed."""
    changed = []
    for field, value in values.items():
        if getattr(obj, field) != value:
            setattr(obj, field, value)
            changed.append(field)
    return changed


def _upsert_vocabulary(spec: VocabularySpec, Vocabulary: ModelClass, counts: dict[str, int]) -> Any:
    values = {
        "name": spec.name,
        "version": spec.version,
        "description": spec.description,
        "multiple": spec.multiple,
        "source": spec.source,
        "sort_order": spec.sort_order,
    }
    vocabulary = Vocabulary.objects.filter(code=spec.code).first()
    if vocabulary is None:
        counts["vocabularies_created"] += 1
        return Vocabulary.objects.create(code=spec.code, **values)
    changed = _apply(vocabulary, values)
    if changed:
        vocabulary.save(update_fields=changed)
        counts["vocabularies_updated"] += 1
    else:
        counts["vocabularies_unchanged"] += 1
    return vocabulary


def _upsert_terms(vocabulary: Any, spec: VocabularySpec, Term: ModelClass, counts: dict[str, int]) -> None:
    existing = {term.code: term for term in Term.objects.filter(vocabulary=vocabulary)}
    created: set[str] = set()
    changed: dict[str, list[str]] = {}

    # First pass: make every term exist, so that the second pass can point at any of them.
    for term_spec in spec.terms:
        values = {
            "label": term_spec.label,
            "definition": term_spec.definition,
            "unconfirmed": term_spec.unconfirmed,
            "sort_order": term_spec.sort_order,
        }
        term = existing.get(term_spec.code)
        if term is None:
            existing[term_spec.code] = Term.objects.create(
                vocabulary=vocabulary, code=term_spec.code, version=spec.version, **values
            )
            created.add(term_spec.code)
            changed[term_spec.code] = []
        else:
            changed[term_spec.code] = _apply(term, values)

    # Second pass: links. Compared by primary key so that an unchanged link is not rewritten.
    for term_spec in spec.terms:
        term = existing[term_spec.code]
        links = {
            "parent_id": existing[term_spec.parent].pk if term_spec.parent else None,
            "deprecated_by_id": existing[term_spec.deprecated_by].pk if term_spec.deprecated_by else None,
        }
        changed[term_spec.code] += _apply(term, links)

    for term_spec in spec.terms:
        term = existing[term_spec.code]
        fields = changed[term_spec.code]
        if term_spec.code in created:
            if fields:
                term.save(update_fields=fields)
            counts["terms_created"] += 1
        elif fields:
            # Term.version records the vocabulary version in which the term last changed.
            term.version = spec.version
            term.save(update_fields=[*fields, "version"])
            counts["terms_updated"] += 1
        else:
            counts["terms_unchanged"] += 1
    # Reported, not removed: records may still point at them (see the module docstring).
    counts["terms_not_in_file"] += len(existing.keys() - {t.code for t in spec.terms})


def _sync_crosswalk(spec: CrosswalkSpec, Term: ModelClass, Mapping: ModelClass, counts: dict[str, int]) -> None:
    def term_ids(vocabulary_code: str) -> dict[str, int]:
        return dict(Term.objects.filter(vocabulary__code=vocabulary_code).values_list("code", "pk"))

    source_ids = term_ids(spec.source_vocabulary)
    target_ids = term_ids(spec.target_vocabulary)
    existing = {
        (mapping.source_id, mapping.target_id): mapping
        for mapping in Mapping.objects.filter(
            source__vocabulary__code=spec.source_vocabulary, target__vocabulary__code=spec.target_vocabulary
        )
    }
    wanted = [(source_ids[source], target_ids[target]) for source, target in spec.pairs]
    wanted_set = set(wanted)
    for source_id, target_id in wanted:
        mapping = existing.get((source_id, target_id))
        if mapping is None:
            Mapping.objects.create(source_id=source_id, target_id=target_id, version=spec.version)
            counts["mappings_created"] += 1
        elif _apply(mapping, {"version": spec.version}):
            mapping.save(update_fields=["version"])
            counts["mappings_updated"] += 1
        else:
            counts["mappings_unchanged"] += 1
    # Unlike terms, a mapping is not referenced by records, so a pair dropped from the file can go.
    stale = [mapping.pk for key, mapping in existing.items() if key not in wanted_set]
    if stale:
        Mapping.objects.filter(pk__in=stale).delete()
        counts["mappings_deleted"] += len(stale)


def load_taxonomy(
    data: dict[str, Any],
    *,
    Vocabulary: ModelClass = taxonomy_models.Vocabulary,
    Term: ModelClass = taxonomy_models.Term,
    Mapping: ModelClass = taxonomy_models.Mapping,
) -> dict[str, int]:
    """Upsert the vocabularies, terms and crosswalks in ``data``; return what was created, updated or left alone.

    Raises ValueError, before writing anything, if the data is malformed.
    """
    vocabularies, crosswalks = parse_taxonomy(data, Vocabulary=Vocabulary, Term=Term, Mapping=Mapping)
    counts = dict.fromkeys(COUNT_KEYS, 0)
    with transaction.atomic():
        for vocabulary_spec in vocabularies:
            vocabulary = _upsert_vocabulary(vocabulary_spec, Vocabulary, counts)
            _upsert_terms(vocabulary, vocabulary_spec, Term, counts)
        for crosswalk_spec in crosswalks:
            _sync_crosswalk(crosswalk_spec, Term, Mapping, counts)
    return counts


def load_taxonomy_file(path: Path | str = DEFAULT_PATH, **models: ModelClass) -> dict[str, int]:
    """Read a taxonomy JSON file and load it; ``models`` are passed on to :func:`load_taxonomy`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    try:
        return load_taxonomy(data, **models)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def total_changes(counts: AbcMapping[str, int], kinds: Iterable[str] = ("created", "updated", "deleted")) -> int:
    """How many rows a load wrote; 0 means the database already matched the file."""
    return sum(value for key, value in counts.items() if key.rsplit("_", 1)[-1] in kinds)
