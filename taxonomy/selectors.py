"""Read helpers over the taxonomy, for views, forms, filters and the API."""

from django.db.models import QuerySet

from taxonomy.models import Mapping, Term


def vocabulary_terms(code: str, *, include_deprecated: bool = True) -> QuerySet[Term]:
    """The terms of one vocabulary in display order (families before their children)."""
    terms = Term.objects.filter(vocabulary__code=code).select_related("vocabulary", "parent")
    if not include_deprecated:
        terms = terms.filter(deprecated_by__isnull=True)
    return terms.order_by("sort_order", "code")


def term_with_descendants_codes(term: Term) -> list[str]:
    """``term``'s code followed by the codes of all terms below it, so filtering by a family matches its children."""
    codes = [term.code]
    level = [term.pk]
    # One query per level; the hierarchies are two levels deep, and this stays correct if one grows deeper.
    while level:
        children = list(
            Term.objects.filter(parent_id__in=level).order_by("sort_order", "code").values_list("pk", "code")
        )
        codes += [code for _pk, code in children]
        level = [pk for pk, _code in children]
    return codes


def crosswalk_sources(vocabulary_code: str, code: str) -> list[Term]:
    """Terms of other vocabularies mapped to ``code`` of ``vocabulary_code`` (or to any term below it).

    For example ``crosswalk_sources("mit-ai-risk", "1.1")`` gives the iasr-2025 terms that answer to MIT
    subdomain 1.1, and ``"4"`` gives those mapped to any subdomain of MIT domain 4. An unknown code gives [].
    """
    target = Term.objects.filter(vocabulary__code=vocabulary_code, code=code).first()
    if target is None:
        return []
    target_codes = term_with_descendants_codes(target)
    return list(
        Term.objects.filter(
            mappings_out__target__vocabulary__code=vocabulary_code, mappings_out__target__code__in=target_codes
        )
        .select_related("vocabulary", "parent")
        .distinct()
        .order_by("vocabulary__sort_order", "sort_order", "code")
    )


def crosswalk_version(source_vocabulary: str, target_vocabulary: str) -> str | None:
    """The version of the crosswalk between two vocabularies, so an answer can say which version produced it."""
    return (
        Mapping.objects.filter(source__vocabulary__code=source_vocabulary, target__vocabulary__code=target_vocabulary)
        .values_list("version", flat=True)
        .first()
    )
