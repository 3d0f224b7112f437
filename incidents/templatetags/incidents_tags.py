from django import template
from django.utils.translation import gettext as _

from incidents.models import ReportEvent

register = template.Library()

EVENT_SENTENCES = {
    "received": lambda e: _("Your report was received."),
    "in_review": lambda e: _("A moderator started reviewing your report."),
    "linked": lambda e: _("Your report was added to incident %(id)s.") % {"id": e.detail.get("incident", "")},
    "published": lambda e: (
        _("Incident %(id)s, which your report supports, was published.") % {"id": e.detail.get("incident", "")}
    ),
    "rejected": lambda e: _("Your report was not accepted."),
}


@register.filter
def event_sentence(event: ReportEvent) -> str:
    sentence = EVENT_SENTENCES.get(event.action)
    return sentence(event) if sentence else event.action.replace("_", " ").capitalize()


@register.filter
def change_value(value: object) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)


REVISION_LABELS = {
    "created": lambda: _("Created"),
    "edited": lambda: _("Edited"),
    "tagged": lambda: _("Tags changed"),
    "entity_added": lambda: _("Organisation or AI system added"),
    "entity_removed": lambda: _("Organisation or AI system removed"),
    "report_linked": lambda: _("Report added"),
    "published": lambda: _("Published"),
    "withdrawn": lambda: _("Withdrawn"),
    "merged_into": lambda: _("Merged into another incident"),
    "merged_from": lambda: _("Another incident merged into this one"),
    "merge_undone": lambda: _("Merge undone"),
}


@register.filter
def revision_label(action: str) -> str:
    """A revision's action in words ("entity_added" → "Organisation or AI system added")."""
    label = REVISION_LABELS.get(action)
    return label() if label else action.replace("_", " ").capitalize()
