"""The API's filters, as django-filter FilterSets: the same parameters on every list,
on the CSV export and on ``stats``.

A value that is not valid (an unknown code, a malformed date) is a 400 with the
field's message, never an empty answer that looks like "no incidents".
"""

import datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from incidents.filters import has_country
from incidents.models import Entity, Incident, IncidentEntity, Report, Tagging, normalise_alias
from incidents.search import incident_search
from incidents.selectors import VERIFICATION_CORROBORATED_REPORTS, incident_with_verification
from taxonomy.models import Term
from taxonomy.selectors import crosswalk_sources

from .terms import term_ids, term_table

MAX_CODES = 20


class TermCodesField(forms.CharField):
    """Comma-separated term codes of one vocabulary → the ids of those terms (and of
    their children for a family). With ``crosswalk``, codes of that vocabulary are
    accepted too and stand for the terms mapped to them."""

    def __init__(self, *args: Any, vocabulary: str, crosswalk: str = "", **kwargs: Any) -> None:
        self.vocabulary = vocabulary
        self.crosswalk = crosswalk
        super().__init__(*args, **kwargs)

    def clean(self, value: Any) -> list[int] | None:  # type: ignore[override]
        value = super().clean(value)
        if not value:
            return None
        codes = [c.strip() for c in str(value).split(",") if c.strip()]
        if len(codes) > MAX_CODES:
            raise forms.ValidationError(_("Give at most %(n)d codes."), params={"n": MAX_CODES})
        table = term_table()
        known = term_ids(table, self.vocabulary)
        ids: set[int] = set()
        unknown = []
        for code in codes:
            if code in known:
                ids.add(known[code])
                continue
            mapped = self._crosswalked(code)
            if mapped:
                ids.update(t.pk for t in mapped)
            else:
                unknown.append(code)
        if unknown:
            raise forms.ValidationError(
                _(
                    "Unknown code(s) of the vocabulary “%(vocabulary)s”: %(codes)s. "
                    "The codes are listed at /api/v1/taxonomy/."
                ),
                params={"vocabulary": self.vocabulary, "codes": ", ".join(unknown[:5])},
                code="unknown_code",
            )
        # A family stands for its categories too (the hierarchy is two levels deep).
        ids.update(pk for pk, term in table.items() if term.parent_id in ids)
        return sorted(ids)

    def _crosswalked(self, code: str) -> list[Term]:
        if not self.crosswalk:
            return []
        for prefix in (f"{self.crosswalk}:", "mit:"):
            if code.startswith(prefix):
                code = code[len(prefix) :]
                break
        return crosswalk_sources(self.crosswalk, code)


class TermCodesFilter(django_filters.CharFilter):
    field_class = TermCodesField

    def filter(self, qs: QuerySet[Incident], value: list[int] | None) -> QuerySet[Incident]:
        if not value:
            return qs
        return qs.filter(Exists(Tagging.objects.filter(incident=OuterRef("pk"), term_id__in=value)))


class SeverityFilter(TermCodesFilter):
    def filter(self, qs: QuerySet[Incident], value: list[int] | None) -> QuerySet[Incident]:
        return qs.filter(severity_id__in=value) if value else qs


class CountryCodeField(forms.CharField):
    """An ISO 3166-1 alpha-2 code, any case. (A ChoiceField of the 249 countries would be
    deep-copied with the form on every request: a third of a list page's time.)"""

    def clean(self, value: Any) -> str:  # type: ignore[override]
        value = (super().clean(value) or "").strip().upper()
        if value and value not in countries:
            raise forms.ValidationError(
                _("“%(value)s” is not an ISO 3166-1 alpha-2 country code, such as FR."),
                params={"value": value[:10]},
                code="invalid_choice",
            )
        return value


class CountryFilter(django_filters.CharFilter):
    field_class = CountryCodeField


class AwareDateTimeField(forms.CharField):
    """An ISO 8601 date-time (``2026-01-31T12:00:00Z``); without an offset it is read as UTC."""

    def clean(self, value: Any) -> datetime.datetime | None:  # type: ignore[override]
        value = super().clean(value)
        if not value:
            return None
        text = str(value).strip().replace(" ", "+")  # "+01:00" arrives as " 01:00" when not URL-encoded
        parsed = None
        try:
            parsed = parse_datetime(text)
            if parsed is None:
                day = datetime.date.fromisoformat(text)
                parsed = datetime.datetime.combine(day, datetime.time.min)
        except ValueError:
            parsed = None
        if parsed is None:
            raise forms.ValidationError(
                _("Give a date-time in ISO 8601, for example 2026-01-31T12:00:00Z."), code="invalid"
            )
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, datetime.UTC)
        try:
            # In UTC: databases refuse offsets beyond ±15:59, which Python accepts.
            return parsed.astimezone(datetime.UTC)
        except (OverflowError, ValueError) as exc:
            raise forms.ValidationError(_("This date-time is out of range."), code="invalid") from exc


class AwareDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = AwareDateTimeField


VERIFICATION = [
    ("unverified", _("Unverified: one report")),
    ("corroborated", _("Corroborated: two or more reports")),
    ("confirmed", _("Confirmed: reproduced by an audit")),
]


class IncidentApiFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_q", help_text=_("Full-text search in titles and descriptions; an incident id finds it.")
    )
    hazard = TermCodesFilter(
        vocabulary="iasr-2025",
        crosswalk="mit-ai-risk",
        help_text=_(
            "Hazard codes of iasr-2025, comma-separated (any of them). A family (``malfunction``) includes its "
            "categories; MIT AI Risk Repository codes (``mit:7.3`` or ``7.3``) match the categories mapped to them."
        ),
    )
    failure_mode = TermCodesFilter(vocabulary="failure-mode", help_text=_("Failure-mode codes, comma-separated."))
    severity = SeverityFilter(vocabulary="oecd-severity", help_text=_("Severity codes, comma-separated."))
    harm_type = TermCodesFilter(vocabulary="oecd-harm-type", help_text=_("OECD harm-type codes, comma-separated."))
    stakeholder = TermCodesFilter(vocabulary="oecd-stakeholder", help_text=_("Stakeholder codes, comma-separated."))
    industry = TermCodesFilter(vocabulary="oecd-industry", help_text=_("ISIC industry codes (``isic:K``)."))
    country = CountryFilter(method="filter_country", help_text=_("ISO 3166-1 alpha-2 code, e.g. ``FR``."))
    entity = django_filters.CharFilter(
        method="filter_entity", help_text=_("An organisation or AI system: its slug or any of its names.")
    )
    role = django_filters.ChoiceFilter(
        choices=IncidentEntity.Role.choices,
        method="filter_role",
        help_text=_("With ``entity``: the entity in this role; alone: any."),
    )
    date_occurred_after = django_filters.DateFilter(
        field_name="date_occurred", lookup_expr="gte", help_text=_("Occurred on or after (YYYY-MM-DD).")
    )
    date_occurred_before = django_filters.DateFilter(
        field_name="date_occurred", lookup_expr="lte", help_text=_("Occurred on or before (YYYY-MM-DD).")
    )
    date_published_after = django_filters.DateFilter(
        field_name="published_at", lookup_expr="date__gte", help_text=_("First published on or after (YYYY-MM-DD).")
    )
    date_published_before = django_filters.DateFilter(
        field_name="published_at", lookup_expr="date__lte", help_text=_("First published on or before (YYYY-MM-DD).")
    )
    verification = django_filters.ChoiceFilter(
        choices=VERIFICATION, method="filter_verification", help_text=_("Verification status.")
    )
    updated_since = AwareDateTimeFilter(
        field_name="modified",
        lookup_expr="gte",
        help_text=_(
            "Changed at or after this ISO 8601 date-time (for incremental sync: pass the largest ``modified`` "
            "you received, with ``ordering=modified``)."
        ),
    )

    class Meta:
        model = Incident
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        return incident_search(queryset, value[:500])

    def filter_country(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        return queryset.filter(has_country(value))

    def _entity_links(self) -> QuerySet[IncidentEntity]:
        links = IncidentEntity.objects.filter(incident=OuterRef("pk"))
        data = self.form.cleaned_data
        if data.get("entity"):
            value = data["entity"]
            matches = Entity.objects.filter(Q(slug=value) | Q(aliases__key=normalise_alias(value)))
            links = links.filter(entity__in=matches.values("pk"))
        if data.get("role"):
            links = links.filter(role=data["role"])
        return links

    def filter_entity(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        return queryset.filter(Exists(self._entity_links()))

    def filter_role(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        if self.form.cleaned_data.get("entity"):
            return queryset  # applied together with the entity
        return queryset.filter(Exists(self._entity_links()))

    def filter_verification(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        if value == "confirmed":
            # Confirmation comes from reproduced audit findings, which do not exist yet.
            return queryset.none()
        if "confirmed_reports" not in queryset.query.annotations:
            queryset = incident_with_verification(queryset)
        threshold = {"confirmed_reports__gte": VERIFICATION_CORROBORATED_REPORTS}
        if value == "corroborated":
            return queryset.filter(**threshold)
        return queryset.exclude(**threshold)


class ReportApiFilter(django_filters.FilterSet):
    incident = django_filters.CharFilter(
        method="filter_incident", help_text=_("Reports of this incident (its public id).")
    )
    date_published_after = django_filters.DateFilter(
        field_name="date_published", lookup_expr="gte", help_text=_("Published on or after (YYYY-MM-DD).")
    )
    date_published_before = django_filters.DateFilter(
        field_name="date_published", lookup_expr="lte", help_text=_("Published on or before (YYYY-MM-DD).")
    )
    language = django_filters.CharFilter(field_name="language", help_text=_("Language code, e.g. ``en``."))
    updated_since = AwareDateTimeFilter(
        field_name="modified", lookup_expr="gte", help_text=_("Changed at or after this ISO 8601 date-time.")
    )

    class Meta:
        model = Report
        fields: list[str] = []

    def filter_incident(self, queryset: QuerySet[Report], name: str, value: str) -> QuerySet[Report]:
        return queryset.filter(links__incident__public_id=value.strip().upper(), links__confirmed=True)


class EntityApiFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Entity.Kind.choices, help_text=_("Organisation or AI system."))
    q = django_filters.CharFilter(method="filter_q", help_text=_("A name or alias (any spelling)."))

    class Meta:
        model = Entity
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet[Entity], name: str, value: str) -> QuerySet[Entity]:
        key = normalise_alias(value)
        return queryset.filter(Q(name__icontains=value.strip()) | Q(aliases__key=key)).distinct()
