"""Which taxonomy answered: every API response carries the vocabularies' versions."""

from django.core.cache import cache

from taxonomy.models import Vocabulary

CACHE_KEY = "api:taxonomy-version"
HEADER = "Taxonomy-Version"


def taxonomy_version() -> str:
    """``iasr-2025=2025.1, failure-mode=2025.1, …``; cached a minute (the loader changes it rarely)."""
    value = cache.get(CACHE_KEY)
    if value is None:
        pairs = Vocabulary.objects.order_by("sort_order", "code").values_list("code", "version")
        value = ", ".join(f"{code}={version}" for code, version in pairs)
        cache.set(CACHE_KEY, value, 60)
    return value
