"""Answers of the public read endpoints, cached in the shared cache (Redis in
production) and keyed by the catalogue's state, so a change is visible at once.

The key is the full path with its query, the format, and a stamp of the
catalogue: the latest ``modified`` of incidents and of entities (every public
change bumps one of them: publishing, edits, tags, links, merges, withdrawals)
and the taxonomy's fingerprint (``api.versions``). Reading the stamp is two
queries, each on an indexed column. Only 200 answers are kept; the caller's key does not
matter, since every public endpoint answers every caller the same (the
moderation statistics are not cached). ``API_CACHE_SECONDS`` (300) bounds how
long an entry lives; 0 turns the cache off.
"""

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max
from django.http import HttpResponse
from django.utils.cache import patch_vary_headers
from rest_framework.request import Request

from incidents.models import Entity, Incident

from .versions import taxonomy_stamp

PREFIX = "api:answer:"


def enabled() -> bool:
    return int(getattr(settings, "API_CACHE_SECONDS", 300)) > 0


def catalogue_stamp() -> str:
    incidents = Incident.objects.aggregate(last=Max("modified"))["last"]
    entities = Entity.objects.aggregate(last=Max("modified"))["last"]
    return f"{incidents.isoformat() if incidents else '-'}|{entities.isoformat() if entities else '-'}"


def key_for(request: Request) -> str:
    accepted = getattr(request, "accepted_media_type", "") or ""
    raw = "\n".join([request.get_full_path(), accepted, catalogue_stamp(), taxonomy_stamp()])
    return PREFIX + hashlib.sha256(raw.encode()).hexdigest()


def lookup(key: str) -> HttpResponse | None:
    found = cache.get(key)
    if found is None:
        return None
    content, content_type, headers = found
    response = HttpResponse(content, content_type=content_type)
    for name, value in headers.items():
        response[name] = value
    patch_vary_headers(response, ["Accept"])
    return response


KEPT_HEADERS = ("Last-Modified", "Location")


def store(key: str, response: Any) -> None:
    if response.status_code != 200 or getattr(response, "streaming", False):
        return
    response.render()
    headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
    cache.set(key, (response.content, response["Content-Type"], headers), int(settings.API_CACHE_SECONDS))
