import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from taxonomy.models import Term

from .evidence import evidence_check
from .models import Entity, Incident, IncidentEntity, Report


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        files = [f for f in files if f]
        if len(files) > settings.EVIDENCE_MAX_FILES:
            raise ValidationError(
                _("Attach at most %(n)d files."), params={"n": settings.EVIDENCE_MAX_FILES}, code="too_many"
            )
        errors = []
        for upload in files:
            try:
                evidence_check(upload)
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise ValidationError(errors)
        return files


class HazardGuessField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Term) -> str:  # type: ignore[override]
        return obj.label


class ReportForm(forms.Form):
    """The public report form. Plain words; every field but three is optional."""

    title = forms.CharField(
        label=_("In one sentence, what happened?"),
        max_length=300,
        help_text=_("For example: “A chatbot gave a customer a refund policy that does not exist”."),
    )
    text = forms.CharField(
        label=_("Tell us what happened"),
        widget=forms.Textarea(attrs={"rows": 7}),
        max_length=20000,
        help_text=_("What the AI system did, who was affected and how. Plain text; links are fine."),
    )
    date_occurred = forms.DateField(
        label=_("When did it happen?"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Your best guess is fine. Leave empty if you do not know."),
    )
    countries = forms.MultipleChoiceField(
        label=_("Where did it happen?"),
        required=False,
        choices=list(countries),
        widget=forms.SelectMultiple(attrs={"size": 5}),
        help_text=_("One or more countries. Hold Ctrl (or ⌘) to choose several."),
    )
    ai_system = forms.CharField(
        label=_("Which AI system or company was involved?"),
        required=False,
        max_length=300,
        help_text=_("For example: “ChatGPT by OpenAI”, or the name of the app or company."),
    )
    harm = forms.CharField(
        label=_("What harm did it cause, or could it cause?"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    submitter_role = forms.ChoiceField(
        label=_("How do you know about it?"),
        required=False,
        choices=Report.SubmitterRole.choices,
        widget=forms.RadioSelect,
    )
    source_url = forms.URLField(
        label=_("A link about it"),
        required=False,
        max_length=1000,
        assume_scheme="https",
        help_text=_("A news article, a post, or a page that shows it."),
    )
    links = forms.CharField(
        label=_("Other links"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line."),
    )
    evidence = MultipleFileField(
        label=_("Evidence (optional)"),
        required=False,
        help_text=_("Screenshots or documents: images (PNG, JPEG, GIF, WebP) or PDF, up to 10 MB each, 5 files."),
    )
    hazard_guesses = HazardGuessField(
        label=_("Which kind of risk do you think this is? (optional)"),
        required=False,
        queryset=Term.objects.filter(vocabulary__code="iasr-2025", parent__isnull=False, deprecated_by__isnull=True)
        .select_related("parent")
        .order_by("sort_order"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("A guess helps the moderators; they decide the final category."),
    )
    contact_email = forms.EmailField(
        label=_("Your e-mail (optional, never public)"),
        required=False,
        help_text=_("Only to tell you what happens to your report. Moderators can see it; nobody else can."),
    )
    consent = forms.BooleanField(
        label=_(
            "I agree that Incident Commons may review this report and publish what happened "
            "(never my e-mail address or files) under an open licence."
        ),
        error_messages={"required": _("Please agree, so that we may use your report.")},
    )
    # Set when the person picked one of the similar published incidents shown while typing.
    same_as = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)
    # Honeypot: hidden from people, filled in by bots.
    website = forms.CharField(required=False, label=_("Leave this empty"))

    def submit_kwargs(self) -> dict[str, Any]:
        """The cleaned fields as ``services.report_submit`` takes them (the web form and the API)."""
        data = self.cleaned_data
        fields = ("title", "text", "contact_email", "source_url", "date_occurred", "countries", "ai_system")
        return {
            **{name: data[name] for name in (*fields, "harm", "submitter_role", "hazard_guesses")},
            "other_links": data["links"],
            "evidence_files": data.get("evidence") or [],
            "same_as": data.get("same_as"),
        }

    def clean_date_occurred(self) -> datetime.date | None:
        value = self.cleaned_data.get("date_occurred")
        if value and value > timezone.localdate():
            raise ValidationError(_("That date is in the future. When did it happen?"))
        if value and value.year < 1950:
            raise ValidationError(_("Please check the year."))
        return value

    def clean_links(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data.get("links", "").splitlines() if line.strip()]
        validate = URLValidator(schemes=["http", "https"])
        bad = []
        for line in lines:
            try:
                validate(line)
            except ValidationError:
                bad.append(line)
        if bad:
            raise ValidationError(
                _("These are not web addresses (they should start with https://): %(bad)s"),
                params={"bad": ", ".join(bad[:3])},
            )
        if len(lines) > 20:
            raise ValidationError(_("Give at most 20 links."))
        return lines

    def clean_same_as(self) -> Incident | None:
        public_id = self.cleaned_data.get("same_as", "").strip().upper()
        if not public_id:
            return None
        return Incident.objects.filter(public_id=public_id, status=Incident.Status.PUBLISHED).first()

    def clean_website(self) -> str:
        if self.cleaned_data.get("website"):
            raise ValidationError(
                _("This form looks as if a program filled it in. If you are a person, leave the last field empty.")
            )
        return ""


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason shown to the person who sent it"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Why is it withdrawn?"), widget=forms.Textarea(attrs={"rows": 2}))


class IncidentEditForm(forms.ModelForm):
    class Meta:
        model = Incident
        fields = ["title", "description", "date_occurred", "countries", "severity"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 8}),
            "date_occurred": forms.DateInput(attrs={"type": "date"}),
        }


class TagForm(forms.Form):
    """One multiple-choice field per vocabulary; built from the data."""

    def __init__(self, *args: Any, vocabularies: Any, initial_terms: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        chosen = {t.pk for t in initial_terms}
        self.vocabularies = vocabularies
        for vocab in vocabularies:
            terms = [t for t in vocab.terms.all() if t.deprecated_by_id is None]
            field_class = forms.ModelMultipleChoiceField if vocab.multiple else forms.ModelChoiceField
            field = field_class(
                queryset=Term.objects.filter(pk__in=[t.pk for t in terms]),
                required=False,
                label=vocab.name,
                widget=forms.CheckboxSelectMultiple if vocab.multiple else forms.RadioSelect,
            )
            field.choices = [(t.pk, t.label if not t.parent_id else f"{t.label}") for t in terms]
            if not vocab.multiple:
                field.choices = [("", _("Not set")), *field.choices]
            self.fields[vocab.code] = field
            initial = [t.pk for t in terms if t.pk in chosen]
            self.initial[vocab.code] = initial if vocab.multiple else (initial[0] if initial else "")

    def terms(self) -> list[Term]:
        result: list[Term] = []
        for value in self.cleaned_data.values():
            if isinstance(value, Term):
                result.append(value)
            elif value:
                result.extend(value)
        return result


class EntityForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=Entity.Kind.choices)
    role = forms.ChoiceField(label=_("Role"), choices=IncidentEntity.Role.choices)
