from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from incidents import selectors as incident_selectors

from .models import Term


@require_GET
def taxonomy_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "taxonomy/index.html",
        {
            "families": incident_selectors.taxonomy_overview(),
            "vocabularies": incident_selectors.vocabularies_for_display(),
        },
    )


@require_GET
def term_detail(request: HttpRequest, vocabulary: str, code: str) -> HttpResponse:
    term = get_object_or_404(
        Term.objects.select_related("vocabulary", "parent", "deprecated_by"), vocabulary__code=vocabulary, code=code
    )
    incidents = (
        incident_selectors.incident_public_queryset()
        .filter(Q(taggings__term=term) | Q(taggings__term__parent=term) | Q(severity=term))
        .distinct()
    )
    incidents = incident_selectors.incident_list_prefetch(incidents.order_by("-date_occurred", "-pk"))
    page = Paginator(incidents, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "taxonomy/term_detail.html",
        {
            "term": term,
            "page": page,
            "children": term.children.all(),
            "mappings": term.mappings_out.select_related("target"),
        },
    )
