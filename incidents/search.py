"""Full-text search: PostgreSQL's ranked full-text search where it runs,
a plain case-insensitive match on SQLite (the laptop default)."""

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import CombinedExpression

from .models import Incident

CONFIG = "english"


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _vector() -> CombinedExpression:
    return SearchVector("title", weight="A", config=CONFIG) + SearchVector("description", weight="B", config=CONFIG)


def incident_index(incident: Incident) -> None:
    """Refresh the stored search vector of one incident (PostgreSQL only)."""
    if is_postgres():
        Incident.objects.filter(pk=incident.pk).update(search_vector=_vector())


def incident_reindex_all() -> int:
    if not is_postgres():
        return 0
    return Incident.objects.update(search_vector=_vector())


def incident_search(queryset: QuerySet[Incident], q: str) -> QuerySet[Incident]:
    """Filter by the words of ``q``; on PostgreSQL annotate ``rank`` for ordering."""
    q = q.strip()
    if not q:
        return queryset
    if is_postgres():
        query = SearchQuery(q, search_type="websearch", config=CONFIG)
        # The public id is not in the vector: "INC-2024-000012" finds its incident, as on SQLite.
        return queryset.filter(Q(search_vector=query) | Q(public_id=q.upper())).annotate(
            rank=SearchRank(F("search_vector"), query)
        )
    condition = Q()
    for word in q.split()[:10]:
        condition &= Q(title__icontains=word) | Q(description__icontains=word) | Q(public_id=word.upper())
    return queryset.filter(condition)
