"""Every write to reports and incidents goes through these functions.

The web form, the admin, the demo loader (and later the API, audits and feeds)
call the same ``report_submit``, so validation and follow-up work cannot differ
by channel. Changes to incidents are recorded as revisions.
"""

import datetime
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from taxonomy.models import Term

from . import search, tasks
from .dedup import index as dedup_index
from .dedup.urls import canonical_url
from .evidence import ALLOWED_TYPES, evidence_check
from .models import (
    DedupResult,
    Entity,
    EntityAlias,
    Evidence,
    Incident,
    IncidentEntity,
    PairVerdict,
    PublicIdCounter,
    Report,
    ReportEvent,
    ReportIncidentLink,
    Revision,
    Tagging,
    normalise_alias,
)
from .text import render_markdown

User = AbstractBaseUser
HARM_REQUIRED_SEVERITIES = {"incident", "serious-incident", "disaster"}
# Vocabularies a moderator tags an incident with (severity is a field of its own).
TAG_VOCABULARIES = (
    "iasr-2025",
    "system-flag",
    "failure-mode",
    "oecd-harm-type",
    "oecd-ai-relation",
    "oecd-stakeholder",
    "oecd-principle",
    "oecd-autonomy",
    "oecd-lifecycle",
    "oecd-industry",
)


class ClaimConflict(Exception):
    """Another moderator holds the claim on this report."""


# --- Reports ---------------------------------------------------------------


def report_submit(
    *,
    title: str,
    text: str = "",
    channel: str = Report.Channel.WEB,
    submitter: Any = None,
    contact_email: str = "",
    source_url: str = "",
    other_links: Sequence[str] = (),
    publisher: str = "",
    authors: str = "",
    language: str = "en",
    date_published: datetime.date | None = None,
    date_occurred: datetime.date | None = None,
    countries: Sequence[str] = (),
    ai_system: str = "",
    harm: str = "",
    submitter_role: str = "",
    hazard_guesses: Iterable[Term] = (),
    evidence_files: Sequence[UploadedFile] = (),
    source_name: str = "",
    external_id: str = "",
    created: datetime.datetime | None = None,
) -> Report:
    """Validate and store one report with its evidence; enqueue the follow-up."""
    checked = [(upload, *evidence_check(upload)) for upload in evidence_files]
    report = Report(
        title=title.strip(),
        text=text.strip(),
        channel=channel,
        submitter=submitter if submitter is not None and submitter.is_authenticated else None,
        contact_email=contact_email.strip(),
        source_url=source_url.strip(),
        other_links=list(other_links),
        publisher=publisher,
        authors=authors,
        language=language or "en",
        date_published=date_published,
        date_occurred=date_occurred,
        countries=list(countries),  # type: ignore[misc]
        ai_system=ai_system.strip(),
        harm=harm.strip(),
        submitter_role=submitter_role,
        source_name=source_name,
        external_id=external_id,
    )
    report.canonical_url = canonical_url(report.source_url)
    if created is not None:
        report.created = report.modified = created
    report.full_clean()
    with transaction.atomic():
        report.save()
        for upload, content_type, digest in checked:
            original_name = (upload.name or "file")[:255]
            # Stored under a random name with the extension of the detected type, never the sender's name.
            upload.name = f"{uuid.uuid4().hex}.{ALLOWED_TYPES[content_type]}"
            Evidence.objects.create(
                report=report,
                file=upload,
                original_name=original_name,
                content_type=content_type,
                size=upload.size or 0,
                sha256=digest,
            )
        Tagging.objects.bulk_create(
            [
                Tagging(report=report, term=term, source=Tagging.Source.SUBMITTER, tagged_by=report.submitter)
                for term in hazard_guesses
            ]
        )
        ReportEvent.objects.create(report=report, action="received", public=True)
        transaction.on_commit(lambda: tasks.report_received.delay(report.pk))
        transaction.on_commit(lambda: tasks.dedup_report.delay(report.pk))
    return report


def _report_event(report: Report, *, actor: Any, action: str, public: bool, **detail: Any) -> ReportEvent:
    event = ReportEvent.objects.create(report=report, actor=actor, action=action, public=public, detail=detail)
    if public and report.contact_email:
        transaction.on_commit(lambda: tasks.report_status_notify.delay(event.pk))
    return event


def _set_report_status(report: Report, status: str, **extra: Any) -> None:
    now = timezone.now()
    fields = {"status": status, "modified": now, **extra}
    Report.objects.filter(pk=report.pk).update(**fields)
    for name, value in fields.items():
        setattr(report, name, value)


def report_claim(*, report: Report, actor: Any) -> Report:
    """Claim a report for review. A claim older than the timeout may be taken over."""
    from django.conf import settings

    now = timezone.now()
    stale = now - datetime.timedelta(minutes=settings.CLAIM_TIMEOUT_MINUTES)
    with transaction.atomic():
        taken = Report.objects.filter(
            Q(claimed_by__isnull=True) | Q(claimed_by=actor) | Q(claimed_at__lt=stale), pk=report.pk
        ).update(claimed_by=actor, claimed_at=now)
        if not taken:
            raise ClaimConflict(_("Another moderator is working on this report."))
        report.refresh_from_db()
        if report.status == Report.Status.RECEIVED:
            _set_report_status(report, Report.Status.IN_REVIEW)
            _report_event(report, actor=actor, action="in_review", public=True)
        ReportEvent.objects.create(report=report, actor=actor, action="claimed")
    return report


def report_release(*, report: Report, actor: Any) -> Report:
    with transaction.atomic():
        Report.objects.filter(pk=report.pk, claimed_by=actor).update(claimed_by=None, claimed_at=None)
        report.refresh_from_db()
        ReportEvent.objects.create(report=report, actor=actor, action="released")
    return report


def report_reject(*, report: Report, actor: Any, reason: str) -> Report:
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why, in words the person who sent the report will understand.")})
    with transaction.atomic():
        _set_report_status(report, Report.Status.REJECTED, public_reason=reason, claimed_by=None, claimed_at=None)
        _report_event(report, actor=actor, action="rejected", public=True, reason=reason)
    return report


def report_attach(*, report: Report, incident: Incident, actor: Any) -> ReportIncidentLink:
    """Link a report to an incident. The sender hears of it once the incident is
    public: attaching to a draft keeps the report in review."""
    if incident.status == Incident.Status.MERGED and incident.merged_into_id:
        incident = Incident.objects.get(pk=incident.merged_into_id)
    with transaction.atomic():
        link, created = ReportIncidentLink.objects.get_or_create(
            report=report,
            incident=incident,
            defaults={"method": ReportIncidentLink.Method.MODERATOR, "made_by": actor, "confirmed": True},
        )
        if created:
            dedup_index.index_report(report, incident.pk)
            if incident.is_published:
                _set_report_status(report, Report.Status.ACCEPTED, claimed_by=None, claimed_at=None)
                _report_event(report, actor=actor, action="published", public=True, incident=incident.public_id)
            else:
                _set_report_status(report, Report.Status.IN_REVIEW, claimed_by=None, claimed_at=None)
                _report_event(report, actor=actor, action="linked", public=False, incident=incident.public_id)
            _revision(incident, actor, "report_linked", {"reports": [None, report.pk]})
            _touch(incident)
    return link


def report_link_auto(*, report: Report, incident_id: int, score: float) -> ReportIncidentLink:
    """The deduplication engine links a report it is certain about. The link is
    unconfirmed until a moderator confirms it, and can be undone."""
    incident = Incident.objects.get(pk=incident_id)
    if incident.status == Incident.Status.MERGED and incident.merged_into_id:
        incident = Incident.objects.get(pk=incident.merged_into_id)
    with transaction.atomic():
        link, created = ReportIncidentLink.objects.get_or_create(
            report=report,
            incident=incident,
            defaults={"method": ReportIncidentLink.Method.DEDUP, "score": score, "confirmed": False},
        )
        if created:
            dedup_index.index_report(report, incident.pk)
            ReportEvent.objects.create(
                report=report, action="auto_linked", detail={"incident": incident.public_id, "score": score}
            )
    return link


def link_undo(*, link: ReportIncidentLink, actor: Any) -> None:
    """Undo an automatic (or any) link; remember the pair is not a duplicate."""
    with transaction.atomic():
        report, incident = link.report, link.incident
        link.delete()
        dedup_index.unindex_report(report, incident.pk)
        PairVerdict.objects.update_or_create(
            report=report, incident=incident, defaults={"verdict": PairVerdict.Verdict.DIFFERENT, "actor": actor}
        )
        ReportEvent.objects.create(
            report=report, actor=actor, action="link_undone", detail={"incident": incident.public_id}
        )
        if report.status == Report.Status.ACCEPTED and not report.links.exists():
            _set_report_status(report, Report.Status.IN_REVIEW)
        _revision(incident, actor, "report_unlinked", {"reports": [report.pk, None]})
        _touch(incident)


def link_confirm(*, link: ReportIncidentLink, actor: Any) -> ReportIncidentLink:
    """A moderator agrees with an automatic link."""
    with transaction.atomic():
        ReportIncidentLink.objects.filter(pk=link.pk).update(confirmed=True, made_by=actor)
        link.refresh_from_db()
        PairVerdict.objects.update_or_create(
            report=link.report, incident=link.incident, defaults={"verdict": PairVerdict.Verdict.SAME, "actor": actor}
        )
        report = link.report
        if link.incident.is_published:
            _set_report_status(report, Report.Status.ACCEPTED, claimed_by=None, claimed_at=None)
            _report_event(report, actor=actor, action="published", public=True, incident=link.incident.public_id)
        else:
            _report_event(report, actor=actor, action="linked", public=False, incident=link.incident.public_id)
    return link


def pair_mark_same(*, report: Report, incident: Incident, actor: Any) -> ReportIncidentLink:
    """ "Same incident": attach the report and remember the verdict."""
    with transaction.atomic():
        existing = ReportIncidentLink.objects.filter(report=report, incident=incident).first()
        if existing is not None:
            return link_confirm(link=existing, actor=actor)
        link = report_attach(report=report, incident=incident, actor=actor)
        PairVerdict.objects.update_or_create(
            report=report, incident=incident, defaults={"verdict": PairVerdict.Verdict.SAME, "actor": actor}
        )
    return link


def pair_mark_different(*, report: Report, incident: Incident, actor: Any) -> PairVerdict:
    """ "Not a duplicate": the pair is never suggested again."""
    with transaction.atomic():
        verdict, _created = PairVerdict.objects.update_or_create(
            report=report, incident=incident, defaults={"verdict": PairVerdict.Verdict.DIFFERENT, "actor": actor}
        )
        ReportEvent.objects.create(
            report=report, actor=actor, action="not_duplicate", detail={"incident": incident.public_id}
        )
        # Drop the pair from the stored suggestions so the queue stops showing it.
        result = DedupResult.objects.filter(report=report).first()
        if result is not None:
            result.candidates = [c for c in result.candidates if c.get("incident") != incident.pk]
            if result.incident_id == incident.pk:
                best = result.candidates[0] if result.candidates else None
                result.incident_id = best["incident"] if best else None
                result.score = best["score"] if best else None
                if best is None:
                    result.decision = DedupResult.Decision.NEW
            result.save()
    return verdict


# --- Incidents -------------------------------------------------------------


def _next_public_id(year: int) -> str:
    counter, _created = PublicIdCounter.objects.select_for_update().get_or_create(year=year)
    PublicIdCounter.objects.filter(pk=year).update(last=counter.last + 1)
    return f"INC-{year}-{counter.last + 1:06d}"


def _touch(incident: Incident) -> None:
    incident.modified = timezone.now()
    Incident.objects.filter(pk=incident.pk).update(modified=incident.modified)


def _revision(incident: Incident, actor: Any, action: str, changes: dict[str, Any]) -> Revision:
    return Revision.objects.create(incident=incident, actor=actor, action=action, changes=changes)


def incident_create(
    *,
    title: str,
    description: str = "",
    date_occurred: datetime.date | None = None,
    countries: Sequence[str] = (),
    actor: Any = None,
    created: datetime.datetime | None = None,
) -> Incident:
    now = created or timezone.now()
    incident = Incident(
        title=title.strip(),
        description=description,
        description_html=render_markdown(description),
        date_occurred=date_occurred,
        countries=list(countries),  # type: ignore[misc]
        created_by=actor if actor is not None and actor.is_authenticated else None,
        created=now,
        modified=now,
        public_id="pending",
    )
    incident.full_clean(exclude=["public_id"])
    with transaction.atomic():
        incident.public_id = _next_public_id(now.year)
        incident.save()
        _revision(incident, actor, "created", {"title": [None, incident.title]})
        search.incident_index(incident)
    return incident


def incident_create_from_report(*, report: Report, actor: Any) -> Incident:
    with transaction.atomic():
        incident = incident_create(
            title=report.title,
            description=report.text,
            date_occurred=report.date_occurred or report.date_published,
            countries=[str(c) for c in report.countries],
            actor=actor,
        )
        report_attach(report=report, incident=incident, actor=actor)
        guesses = [t.term for t in report.taggings.select_related("term")]
        if guesses:
            Tagging.objects.bulk_create(
                [Tagging(incident=incident, term=term, source=Tagging.Source.SUBMITTER) for term in guesses],
                ignore_conflicts=True,
            )
    return incident


EDITABLE_FIELDS = ("title", "description", "date_occurred", "countries", "severity")


def _field_repr(name: str, value: Any) -> Any:
    """A JSON-friendly form of a field's value, for revisions."""
    if name == "countries":
        return sorted(getattr(c, "code", c) for c in value or [])
    if isinstance(value, Term):
        return value.code
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def incident_update(*, incident: Incident, actor: Any, **values: Any) -> Incident:
    """Change the editable fields; record what changed as one revision."""
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    changes: dict[str, list[Any]] = {}
    for name, value in values.items():
        before = _field_repr(name, getattr(incident, name))
        after = _field_repr(name, value)
        if before != after:
            changes[name] = [before, after]
            setattr(incident, name, value)
    if not changes:
        return incident
    incident.description_html = render_markdown(incident.description)
    incident.full_clean()
    with transaction.atomic():
        incident.modified = timezone.now()
        incident.save()
        _revision(incident, actor, "edited", changes)
        search.incident_index(incident)
    return incident


def incident_set_tags(*, incident: Incident, actor: Any, terms: Iterable[Term]) -> Incident:
    """Replace the moderator-visible tags of an incident with ``terms``."""
    wanted = {t.pk: t for t in terms}
    for term in wanted.values():
        if term.vocabulary.code not in TAG_VOCABULARIES:
            raise ValidationError(_("%(code)s cannot be used as a tag.") % {"code": term.code})
        if term.deprecated:
            raise ValidationError(_("%(code)s is deprecated; use its replacement.") % {"code": term.code})
    single = {}
    for term in wanted.values():
        if not term.vocabulary.multiple:
            if term.vocabulary.code in single:
                raise ValidationError(_("Choose only one %(vocab)s.") % {"vocab": term.vocabulary.name})
            single[term.vocabulary.code] = term
    with transaction.atomic():
        current = {t.term_id: t for t in incident.taggings.select_related("term")}
        removed = [current[pk].term.code for pk in current.keys() - wanted.keys()]
        added = [wanted[pk].code for pk in wanted.keys() - current.keys()]
        if not removed and not added:
            return incident
        incident.taggings.filter(term_id__in=current.keys() - wanted.keys()).delete()
        Tagging.objects.bulk_create(
            [
                Tagging(incident=incident, term=wanted[pk], source=Tagging.Source.MODERATOR, tagged_by=actor)
                for pk in wanted.keys() - current.keys()
            ]
        )
        _revision(incident, actor, "tagged", {"tags": [sorted(removed), sorted(added)]})
        _touch(incident)
    return incident


def incident_publish_problems(incident: Incident) -> list[str]:
    """What stops an incident from being published, in a moderator's words."""
    problems = []
    codes = list(incident.taggings.values_list("term__vocabulary__code", "term__code"))
    if not any(v == "iasr-2025" and "." in c for v, c in codes):
        problems.append(_("Add at least one hazard category."))
    if incident.severity_id is None:
        problems.append(_("Choose a severity."))
    elif (
        incident.severity
        and incident.severity.code in HARM_REQUIRED_SEVERITIES
        and not any(v == "oecd-harm-type" for v, _c in codes)
    ):
        problems.append(_("An incident (harm occurred) needs at least one harm type."))
    if not incident.description.strip():
        problems.append(_("Write a description."))
    return problems


def incident_publish(*, incident: Incident, actor: Any) -> Incident:
    problems = incident_publish_problems(incident)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        before = incident.status
        now = timezone.now()
        incident.status = Incident.Status.PUBLISHED
        incident.published_at = incident.published_at or now
        incident.modified = now
        incident.save(update_fields=["status", "published_at", "modified"])
        _revision(incident, actor, "published", {"status": [before, incident.status]})
        # Reports waiting on this incident are accepted, and their senders told (rejected ones stay rejected).
        waiting = Report.objects.filter(links__incident=incident).exclude(
            status__in=[Report.Status.ACCEPTED, Report.Status.REJECTED]
        )
        for report in waiting:
            _set_report_status(report, Report.Status.ACCEPTED)
            _report_event(report, actor=actor, action="published", public=True, incident=incident.public_id)
    return incident


def incident_withdraw(*, incident: Incident, actor: Any, reason: str) -> Incident:
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the incident is withdrawn.")})
    with transaction.atomic():
        before = incident.status
        incident.status = Incident.Status.WITHDRAWN
        incident.modified = timezone.now()
        incident.save(update_fields=["status", "modified"])
        _revision(incident, actor, "withdrawn", {"status": [before, incident.status], "reason": [None, reason]})
    return incident


# --- Entities --------------------------------------------------------------


def entity_resolve(*, name: str, kind: str = Entity.Kind.ORGANISATION) -> Entity:
    """The entity known under ``name`` (any alias), created if none is."""
    key = normalise_alias(name)
    if not key:
        raise ValidationError(_("An organisation or system needs a name."))
    alias = EntityAlias.objects.select_related("entity").filter(key=key).first()
    if alias:
        return alias.entity
    with transaction.atomic():
        base = slugify(name)[:180] or key[:180]
        slug, n = base, 1
        while Entity.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        entity = Entity.objects.create(kind=kind, name=name.strip(), slug=slug)
        EntityAlias.objects.create(entity=entity, alias=name.strip())
    return entity


def entity_add_alias(*, entity: Entity, alias: str) -> EntityAlias:
    key = normalise_alias(alias)
    existing = EntityAlias.objects.filter(key=key).select_related("entity").first()
    if existing:
        if existing.entity_id != entity.pk:
            raise ValidationError(
                _("“%(alias)s” already names %(entity)s.") % {"alias": alias, "entity": existing.entity}
            )
        return existing
    return EntityAlias.objects.create(entity=entity, alias=alias)


def incident_add_entity(*, incident: Incident, actor: Any, name: str, kind: str, role: str) -> IncidentEntity:
    entity = entity_resolve(name=name, kind=kind)
    with transaction.atomic():
        link, created = IncidentEntity.objects.get_or_create(incident=incident, entity=entity, role=role)
        if created:
            _revision(incident, actor, "entity_added", {"entities": [None, f"{entity.name} ({role})"]})
            _touch(incident)
    return link


def incident_remove_entity(*, incident: Incident, actor: Any, link_id: int) -> None:
    with transaction.atomic():
        link = IncidentEntity.objects.select_related("entity").get(pk=link_id, incident=incident)
        link.delete()
        _revision(incident, actor, "entity_removed", {"entities": [f"{link.entity.name} ({link.role})", None]})
        _touch(incident)
