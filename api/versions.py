"""Which taxonomy answered: every API response carries the vocabularies' versions; and
a fingerprint of the terms, so what is built from them (the term table, cached
answers) follows an edit within a minute."""

import hashlib

from django.core.cache import cache

from taxonomy.models import Mapping, Term, Vocabulary

CACHE_KEY = "api:taxonomy-version"
STAMP_KEY = "api:taxonomy-stamp"
HEADER = "Taxonomy-Version"
SECONDS = 60


def taxonomy_version() -> str:
    """``iasr-2025=2025.1, failure-mode=2025.1, …``; cached a minute (the loader changes it rarely)."""
    value = cache.get(CACHE_KEY)
    if value is None:
        pairs = Vocabulary.objects.order_by("sort_order", "code").values_list("code", "version")
        value = ", ".join(f"{code}={version}" for code, version in pairs)
        cache.set(CACHE_KEY, value, SECONDS)
    return value


def taxonomy_stamp() -> str:
    """A digest of every term and mapping (ids, codes, labels, hierarchy); cached a minute."""
    value = cache.get(STAMP_KEY)
    if value is None:
        digest = hashlib.sha256(taxonomy_version().encode())
        terms = Term.objects.order_by("pk").values_list("pk", "code", "label", "parent_id", "deprecated_by_id")
        digest.update(repr(list(terms)).encode())
        digest.update(repr(list(Mapping.objects.order_by("pk").values_list("source_id", "target_id"))).encode())
        value = digest.hexdigest()[:16]
        cache.set(STAMP_KEY, value, SECONDS)
    return value
