"""The catalogue's facets, as a django-filter FilterSet (filters live in the URL)."""

from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from taxonomy.models import Term

from .models import Entity, Incident, IncidentEntity, Tagging, normalise_alias
from .search import incident_search, is_postgres


def _terms(vocabulary: str) -> Any:
    return Term.objects.filter(vocabulary__code=vocabulary, deprecated_by__isnull=True).select_related("parent")


def has_country(code: str) -> Q:
    """django-countries stores several countries as "FR,US": match a whole code."""
    return (
        Q(countries=code)
        | Q(countries__startswith=f"{code},")
        | Q(countries__endswith=f",{code}")
        | Q(countries__contains=f",{code},")
    )


class HazardChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Term) -> str:  # type: ignore[override]
        return f"— {obj.label}" if obj.parent_id else obj.label


class HazardFilter(django_filters.ModelChoiceFilter):
    field_class = HazardChoiceField


def _has_term(queryset: QuerySet[Incident], term_ids: list[int]) -> QuerySet[Incident]:
    return queryset.filter(Exists(Tagging.objects.filter(incident=OuterRef("pk"), term_id__in=term_ids)))


SORTS = {
    "relevance": _("Best match"),
    "-date": _("Newest first"),
    "date": _("Oldest first"),
    "-updated": _("Recently updated"),
    "title": _("Title A–Z"),
}


class IncidentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="filter_q")
    hazard = HazardFilter(
        label=_("Hazard category"),
        queryset=_terms("iasr-2025").order_by("sort_order"),
        to_field_name="code",
        method="filter_hazard",
        empty_label=_("Any hazard"),
    )
    harm = django_filters.ModelChoiceFilter(
        label=_("Harm type"),
        queryset=_terms("oecd-harm-type"),
        to_field_name="code",
        method="filter_term",
        empty_label=_("Any harm"),
    )
    severity = django_filters.ModelChoiceFilter(
        label=_("Severity"),
        queryset=_terms("oecd-severity"),
        to_field_name="code",
        field_name="severity",
        empty_label=_("Any severity"),
    )
    country = django_filters.ChoiceFilter(
        label=_("Country"), choices=list(countries), method="filter_country", empty_label=_("Any country")
    )
    entity = django_filters.CharFilter(label=_("Organisation or system"), method="filter_entity")
    date_from = django_filters.DateFilter(
        label=_("Occurred from"),
        field_name="date_occurred",
        lookup_expr="gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = django_filters.DateFilter(
        label=_("Occurred until"),
        field_name="date_occurred",
        lookup_expr="lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    sort = django_filters.ChoiceFilter(
        label=_("Sort"), choices=list(SORTS.items()), method="filter_sort", empty_label=None
    )

    class Meta:
        model = Incident
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        return incident_search(queryset, value)

    def filter_hazard(self, queryset: QuerySet[Incident], name: str, value: Term) -> QuerySet[Incident]:
        ids = [value.pk]
        if value.parent_id is None:
            ids += list(Term.objects.filter(parent=value).values_list("pk", flat=True))
        return _has_term(queryset, ids)

    def filter_term(self, queryset: QuerySet[Incident], name: str, value: Term) -> QuerySet[Incident]:
        return _has_term(queryset, [value.pk])

    def filter_country(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        return queryset.filter(has_country(value))

    def filter_entity(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        """By slug or by any alias: "Open AI" and "openai.com" find OpenAI."""
        matches = Entity.objects.filter(Q(slug=value) | Q(aliases__key=normalise_alias(value)))
        return queryset.filter(
            Exists(IncidentEntity.objects.filter(incident=OuterRef("pk"), entity__in=matches.values("pk")))
        )

    def filter_sort(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        # Ordering is applied in ``ordered`` so it also covers the default.
        return queryset

    def ordered(self) -> QuerySet[Incident]:
        if self.is_bound and not self.is_valid():
            # A value that is no choice (``?country=S``) matches nothing; django-filter
            # would otherwise drop that filter and list everything.
            return self.queryset.none()
        qs = self.qs
        data = self.form.cleaned_data if self.form.is_valid() else {}
        sort = data.get("sort") or ("relevance" if data.get("q") else "-date")
        if sort == "relevance":
            if data.get("q") and is_postgres():
                return qs.order_by("-rank", F("date_occurred").desc(nulls_last=True), "-pk")
            sort = "-date"
        orders = {
            "-date": [F("date_occurred").desc(nulls_last=True), "-pk"],
            "date": [F("date_occurred").asc(nulls_last=True), "pk"],
            "-updated": ["-modified", "-pk"],
            "title": ["title", "pk"],
        }
        return qs.order_by(*orders[sort])
