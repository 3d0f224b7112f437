"""Full-text search: PostgreSQL's ranked full-text search where it runs,
a plain case-insensitive match on SQLite (the laptop default)."""

import re

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import CombinedExpression

from .models import Incident

CONFIG = "english"
PUBLIC_ID = re.compile(r"INC-\d{4}-\d+")
# How many merges deep a merged incident's id is followed to the incident it ended up in.
MERGE_DEPTH = 3


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


def public_id_match(value: str) -> Q:
    """The incident with this public id, or the one it was merged into, so an old id
    still finds its incident. The merge is looked up first (one small query, only for
    a word shaped like an id) so the filter stays an index lookup on the primary key."""
    public_id = value.strip().upper()
    condition = Q(public_id=public_id)
    if not PUBLIC_ID.fullmatch(public_id):
        return condition
    merged_into = Incident.objects.filter(public_id=public_id, status=Incident.Status.MERGED)
    ids = []
    # Follow a few merges deep (A into B, later B into C).
    for _depth in range(MERGE_DEPTH):
        target_id = merged_into.values_list("merged_into_id", flat=True).first()
        if target_id is None:
            break
        ids.append(target_id)
        merged_into = Incident.objects.filter(pk=target_id, status=Incident.Status.MERGED)
    return condition | Q(pk__in=ids) if ids else condition


def incident_search(queryset: QuerySet[Incident], q: str) -> QuerySet[Incident]:
    """Filter by the words of ``q``; on PostgreSQL annotate ``rank`` for ordering."""
    q = q.strip()
    if not q:
        return queryset
    if is_postgres():
        query = SearchQuery(q, search_type="websearch", config=CONFIG)
        # The public id is not in the vector: "INC-2024-000012" finds its incident, as on SQLite.
        return queryset.filter(Q(search_vector=query) | public_id_match(q)).annotate(
            rank=SearchRank(F("search_vector"), query)
        )
    condition = Q()
    for word in q.split()[:10]:
        condition &= Q(title__icontains=word) | Q(description__icontains=word) | public_id_match(word)
    return queryset.filter(condition)
