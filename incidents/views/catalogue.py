"""The public catalogue: search and facets, and the incident page."""

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from config.http import HtmxHttpRequest

from .. import selectors
from ..filters import IncidentFilter
from ..models import Incident

PAGE_SIZE = 20


@require_GET
def incident_list(request: HtmxHttpRequest) -> HttpResponse:
    filterset = IncidentFilter(request.GET or None, queryset=selectors.incident_public_queryset())
    incidents = selectors.incident_list_prefetch(filterset.ordered())
    page = Paginator(incidents, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filter": filterset, "page": page, "query": query.urlencode()}
    if request.htmx and not request.htmx.boosted:
        return render(request, "incidents/_results.html", context)
    return render(request, "incidents/incident_list.html", context)


@require_GET
def incident_detail(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    incident = selectors.incident_get_public(public_id)
    if incident is None:
        raise Http404
    if incident.status == Incident.Status.MERGED:
        # Straight to the incident it ended up in (merges can chain), if that one is public.
        destination = selectors.incident_follow_merges(incident)
        if not destination.is_published:
            raise Http404
        return redirect(destination, permanent=True)
    return render(
        request,
        "incidents/incident_detail.html",
        {
            "incident": incident,
            "tags": selectors.incident_tags_by_vocabulary(incident),
            "canonical_url": request.build_absolute_uri(incident.get_absolute_url()),
        },
    )


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    latest = selectors.incident_list_prefetch(selectors.incident_public_queryset().order_by("-published_at", "-pk"))[:6]
    return render(
        request,
        "home.html",
        {"latest": latest, "families": selectors.taxonomy_overview()},
    )
