"""Every write to reports and incidents goes through these functions.

The web form, the admin, the demo loader (and later the API, audits and feeds)
call the same ``report_submit``, so validation and follow-up work cannot differ
by channel. Changes to incidents are recorded as revisions.
"""

import datetime
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Model, Q
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
    MergeRecord,
    PairVerdict,
    PublicIdCounter,
    Report,
    ReportEvent,
    ReportIncidentLink,
    Revision,
    Tagging,
    normalise_alias,
)
from .selectors import incident_follow_merges
from .text import render_markdown

M = TypeVar("M", bound=Model)

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
    same_as: Incident | None = None,
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
    # The status token is 192 random bits (the unique index still guards it): asking the
    # database whether it is taken would cost every submission a query. The one constraint,
    # a feed item's (source, external id) stored once, is left to the database too: Django's
    # check of a conditional constraint took 4.5 ms of Python for each submission, web and API
    # ones included, where it cannot fail (docs/dedup.md, "The task's own writes").
    report.full_clean(exclude=["status_token"], validate_constraints=False)
    try:
        return _report_store(report, checked, hazard_guesses, same_as)
    except IntegrityError:
        if (
            report.external_id
            and Report.objects.filter(source_name=report.source_name, external_id=report.external_id).exists()
        ):
            raise ValidationError(
                {"external_id": _("A report with this source and external id is stored already.")}
            ) from None
        raise


def _report_store(
    report: Report,
    checked: list[tuple[UploadedFile, str, str]],
    hazard_guesses: Iterable[Term],
    same_as: Incident | None,
) -> Report:
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
        if same_as is not None:
            # The sender's own pick among the similar incidents shown: a hint for moderators.
            ReportEvent.objects.create(
                report=report, action="sender_says_same_as", detail={"incident": same_as.public_id}
            )
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


def create_or_get(model: type[M], *, defaults: dict[str, Any] | None = None, **lookup: Any) -> tuple[M, bool]:
    """``get_or_create`` the other way round, where a new row is the usual case: the INSERT
    first (a query less), and the row is read only when ``lookup``'s unique key is taken."""
    try:
        with transaction.atomic():
            return model._default_manager.create(**lookup, **(defaults or {})), True
    except IntegrityError:
        try:
            return model._default_manager.get(**lookup), False
        except model.DoesNotExist:  # type: ignore[attr-defined]
            pass
        raise  # not that key: the IntegrityError itself, as get_or_create does


def _link_create(report: Report, incident: Incident, **defaults: Any) -> tuple[ReportIncidentLink, bool]:
    """Link a report to an incident (or to what it was merged into) once, and put
    the report in the deduplication index when the link is new."""
    incident = incident_follow_merges(incident)
    link, created = create_or_get(ReportIncidentLink, report=report, incident=incident, defaults=defaults)
    if created:
        dedup_index.index_report(report, link.incident_id)
    return link, created


def report_attach(*, report: Report, incident: Incident, actor: Any) -> ReportIncidentLink:
    """Link a report to an incident. The sender hears of it once the incident is
    public: attaching to a draft keeps the report in review."""
    with transaction.atomic():
        link, created = _link_create(
            report, incident, method=ReportIncidentLink.Method.MODERATOR, made_by=actor, confirmed=True
        )
        incident = link.incident
        if created:
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
    # No savepoint: the task calls this inside its own transaction, which any error undoes whole.
    with transaction.atomic(savepoint=False):
        link, created = _link_create(
            report,
            Incident.objects.get(pk=incident_id),
            method=ReportIncidentLink.Method.DEDUP,
            score=score,
            confirmed=False,
        )
        incident = link.incident
        if created:
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
        _touch(link.incident)  # its public reports changed
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
    if incident.status == Incident.Status.MERGED:
        return [_("This incident is merged into another one: undo the merge first.")]
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
    if incident.status == Incident.Status.MERGED:
        raise ValidationError({"reason": _("This incident is merged into another one: undo the merge first.")})
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
    alias_row = EntityAlias.objects.create(entity=entity, alias=alias)
    Entity.objects.filter(pk=entity.pk).update(modified=timezone.now())  # a public change
    return alias_row


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


# --- Merging ---------------------------------------------------------------
#
# Merging moves the source's report links to the target (same rows, re-pointed)
# and copies onto the target the tags and entity links it lacks; the source's
# own tags and entity links are left as they are. ``MergeRecord.moved`` lists
# exactly what changed, so ``incident_unmerge`` puts it all back. See the
# docstring of ``MergeRecord`` for the snapshot's format.

MERGE_SNAPSHOT_VERSION = 1


@dataclass(frozen=True)
class MergePlan:
    """What merging ``source`` into ``target`` would do (shown before confirming)."""

    source: Incident
    target: Incident
    # The source's links that move to the target.
    links_moved: list[ReportIncidentLink]
    # (the source's link, the target's link kept) for reports the target already has.
    links_dropped: list[tuple[ReportIncidentLink, ReportIncidentLink]]
    # The source's taggings copied to the target; those whose term the target has;
    # those of a one-term vocabulary (autonomy, ...) the target already has a term of.
    taggings_added: list[Tagging]
    taggings_present: list[Tagging]
    taggings_skipped: list[Tagging]
    entities_added: list[IncidentEntity]
    entities_present: list[IncidentEntity]

    @property
    def report_count(self) -> int:
        return len(self.links_moved) + len(self.links_dropped)


def incident_merge_problems(*, source: Incident, target: Incident) -> list[str]:
    """Why ``source`` cannot be merged into ``target``, in a moderator's words (empty if it can)."""
    if source.pk == target.pk:
        return [_("An incident cannot be merged into itself.")]
    ids = {"source": source.public_id, "target": target.public_id}
    problems = []
    if source.status == Incident.Status.MERGED:
        problems.append(_("%(source)s is already merged into another incident.") % ids)
    if target.status == Incident.Status.MERGED:
        problems.append(_("%(target)s is itself merged into another incident: merge into that one instead.") % ids)
    if target.status == Incident.Status.WITHDRAWN:
        problems.append(_("%(target)s is withdrawn: it cannot take in another incident.") % ids)
    if source.status == Incident.Status.PUBLISHED and target.status == Incident.Status.DRAFT:
        problems.append(
            _(
                "%(source)s is published and %(target)s is a draft: publish %(target)s first, "
                "so that the address of %(source)s leads to a public page."
            )
            % ids
        )
    return problems


def incident_merge_plan(*, source: Incident, target: Incident) -> MergePlan:
    """What a merge would move, in six queries however many rows there are."""
    target_links = {link.report_id: link for link in target.links.all()}
    links_moved, links_dropped = [], []
    for link in source.links.select_related("report").order_by("pk"):
        kept = target_links.get(link.report_id)
        if kept is None:
            links_moved.append(link)
        else:
            links_dropped.append((link, kept))
    target_tags = list(target.taggings.select_related("term__vocabulary"))
    target_terms = {t.term_id for t in target_tags}
    single_vocabularies = {t.term.vocabulary_id for t in target_tags if not t.term.vocabulary.multiple}
    added, present, skipped = [], [], []
    for tagging in source.taggings.select_related("term__vocabulary").order_by("pk"):
        if tagging.term_id in target_terms:
            present.append(tagging)
        elif not tagging.term.vocabulary.multiple and tagging.term.vocabulary_id in single_vocabularies:
            skipped.append(tagging)
        else:
            added.append(tagging)
    target_entities = set(target.entity_links.values_list("entity_id", "role"))
    entities_added, entities_present = [], []
    for entity_link in source.entity_links.select_related("entity").order_by("pk"):
        if (entity_link.entity_id, entity_link.role) in target_entities:
            entities_present.append(entity_link)
        else:
            entities_added.append(entity_link)
    return MergePlan(
        source=source,
        target=target,
        links_moved=links_moved,
        links_dropped=links_dropped,
        taggings_added=added,
        taggings_present=present,
        taggings_skipped=skipped,
        entities_added=entities_added,
        entities_present=entities_present,
    )


def _user_or_none(actor: Any) -> Any:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _lock_pair(first: Incident, second: Incident) -> tuple[Incident, Incident]:
    """Fresh, row-locked copies of two incidents (locked in pk order, so two merges cannot deadlock)."""
    rows = {
        row.pk: row for row in Incident.objects.select_for_update().filter(pk__in=[first.pk, second.pk]).order_by("pk")
    }
    return rows[first.pk], rows[second.pk]


def _link_snapshot(link: ReportIncidentLink) -> dict[str, Any]:
    return {
        "id": link.pk,
        "report": link.report_id,
        "method": link.method,
        "made_by": link.made_by_id,
        "score": link.score,
        "confirmed": link.confirmed,
        "created": link.created.isoformat(),
    }


def incident_merge(*, source: Incident, target: Incident, actor: Any) -> MergeRecord:
    """Merge ``source`` into ``target``: its reports, tags and entities (with all their
    aliases) end up on the target, its address redirects there, and the merge is
    recorded so ``incident_unmerge`` can undo it exactly. Reports are never deleted."""
    given_source, given_target = source, target
    with transaction.atomic():
        source, target = _lock_pair(source, target)
        problems = incident_merge_problems(source=source, target=target)
        if problems:
            raise ValidationError(problems)
        plan = incident_merge_plan(source=source, target=target)
        now = timezone.now()
        actor = _user_or_none(actor)

        ReportIncidentLink.objects.filter(pk__in=[link.pk for link in plan.links_moved]).update(incident=target)
        ReportIncidentLink.objects.filter(pk__in=[link.pk for link, _kept in plan.links_dropped]).delete()
        taggings = Tagging.objects.bulk_create(
            [
                Tagging(
                    incident=target, term_id=t.term_id, source=t.source, tagged_by_id=t.tagged_by_id, created=t.created
                )
                for t in plan.taggings_added
            ]
        )
        entity_links = IncidentEntity.objects.bulk_create(
            [IncidentEntity(incident=target, entity_id=e.entity_id, role=e.role) for e in plan.entities_added]
        )

        # Reports now supporting a published incident are accepted, as publishing does
        # (unconfirmed automatic links wait for a moderator; rejected reports stay rejected).
        report_status: dict[str, list[str]] = {}
        if target.is_published:
            for link in plan.links_moved:
                report = link.report
                if link.confirmed and report.status not in (Report.Status.ACCEPTED, Report.Status.REJECTED):
                    report_status[str(report.pk)] = [report.status, Report.Status.ACCEPTED]
                    _set_report_status(report, Report.Status.ACCEPTED)
                    _report_event(report, actor=actor, action="published", public=True, incident=target.public_id)
        reports = [link.report for link in plan.links_moved] + [link.report for link, _kept in plan.links_dropped]
        ReportEvent.objects.bulk_create(
            [
                ReportEvent(
                    report=report,
                    actor=actor,
                    action="incident_merged",
                    detail={"incident": source.public_id, "into": target.public_id},
                )
                for report in reports
            ]
        )

        prior_status = source.status
        Incident.objects.filter(pk=source.pk).update(status=Incident.Status.MERGED, merged_into=target, modified=now)
        Incident.objects.filter(pk=target.pk).update(modified=now)
        source.status, source.merged_into, source.modified = Incident.Status.MERGED, target, now
        target.modified = now
        _revision(
            source,
            actor,
            "merged_into",
            {"status": [prior_status, source.status], "merged_into": [None, target.public_id]},
        )
        _revision(
            target,
            actor,
            "merged_from",
            {"merged_from": [None, source.public_id], "reports": [None, sorted(r.pk for r in reports)]},
        )

        record = MergeRecord.objects.create(
            source=source,
            target=target,
            actor=actor,
            created=now,
            moved={
                "version": MERGE_SNAPSHOT_VERSION,
                "source_status": prior_status,
                "links_moved": [_link_snapshot(link) for link in plan.links_moved],
                "links_dropped": [
                    {**_link_snapshot(link), "target_link": kept.pk} for link, kept in plan.links_dropped
                ],
                "taggings_added": [t.pk for t in taggings],
                "taggings_present": [t.term_id for t in plan.taggings_present],
                "taggings_skipped": [t.term_id for t in plan.taggings_skipped],
                "entities_added": [e.pk for e in entity_links],
                "entities_present": [[e.entity_id, e.role] for e in plan.entities_present],
                "report_status": report_status,
            },
        )

        # The links have moved: the source's index entry empties, the target's grows.
        for report in reports:
            dedup_index.unindex_report(report, source.pk)
        for report in reports:
            dedup_index.index_report(report, target.pk)
    given_source.status, given_source.merged_into, given_source.modified = source.status, target, now
    given_target.modified = now
    return record


def incident_unmerge(*, record: MergeRecord, actor: Any) -> Incident:
    """Undo a merge exactly: the source gets back its links (the same rows, with their
    original data), its status and its address; what the merge added to the target
    is removed. Refused if already undone, or if either incident has moved on since
    (the source is no longer merged into the target, or the target was merged away)."""
    with transaction.atomic():
        given_record = record
        record = MergeRecord.objects.select_for_update().get(pk=record.pk)
        source, target = _lock_pair(record.source, record.target)
        ids = {"source": source.public_id, "target": target.public_id}
        if record.undone_at is not None:
            raise ValidationError(_("This merge of %(source)s into %(target)s was already undone.") % ids)
        if source.status != Incident.Status.MERGED or source.merged_into_id != target.pk:
            raise ValidationError(_("%(source)s is no longer merged into %(target)s.") % ids)
        if target.status == Incident.Status.MERGED:
            raise ValidationError(
                _("%(target)s has since been merged into another incident: undo that merge first.") % ids
            )
        moved = record.moved
        now = timezone.now()
        actor = _user_or_none(actor)

        back = moved["links_moved"] + moved["links_dropped"]
        report_ids = {data["report"] for data in back}
        reports = Report.objects.in_bulk(report_ids)
        users = set(
            get_user_model()
            .objects.filter(pk__in={d["made_by"] for d in back if d["made_by"]})
            .values_list("pk", flat=True)
        )
        on_source = set(source.links.values_list("report_id", flat=True))
        rows = ReportIncidentLink.objects.in_bulk([data["id"] for data in back])
        returned: list[Report] = []
        for data in back:
            report = reports.get(data["report"])
            if report is None or report.pk in on_source:
                continue
            original = {
                "incident": source,
                "report": report,
                "method": data["method"],
                "made_by_id": data["made_by"] if data["made_by"] in users else None,
                "score": data["score"],
                "confirmed": data["confirmed"],
                "created": datetime.datetime.fromisoformat(data["created"]),
            }
            row = rows.get(data["id"])
            if row is None:
                # Dropped by the merge, or unlinked from the target since: made again, under its old id.
                ReportIncidentLink.objects.create(pk=data["id"], **original)
            elif row.incident_id == target.pk:
                ReportIncidentLink.objects.filter(pk=row.pk).update(**original)
            else:
                raise ValidationError(
                    _("A report of %(source)s has since been moved to another incident; it cannot be undone here.")
                    % ids
                )
            returned.append(report)

        for report_id, (before, after) in moved["report_status"].items():
            # Only if nothing changed the report's status since.
            Report.objects.filter(pk=int(report_id), status=after).update(status=before, modified=now)

        Tagging.objects.filter(pk__in=moved["taggings_added"], incident=target).delete()
        IncidentEntity.objects.filter(pk__in=moved["entities_added"], incident=target).delete()

        Incident.objects.filter(pk=source.pk).update(status=moved["source_status"], merged_into=None, modified=now)
        Incident.objects.filter(pk=target.pk).update(modified=now)
        source.status, source.merged_into, source.modified = moved["source_status"], None, now
        _revision(
            source,
            actor,
            "merge_undone",
            {"status": [Incident.Status.MERGED, source.status], "merged_into": [target.public_id, None]},
        )
        _revision(
            target,
            actor,
            "merge_undone",
            {"merged_from": [source.public_id, None], "reports": [sorted(r.pk for r in returned), None]},
        )
        ReportEvent.objects.bulk_create(
            [
                ReportEvent(
                    report=report,
                    actor=actor,
                    action="incident_unmerged",
                    detail={"incident": source.public_id, "from": target.public_id},
                )
                for report in returned
            ]
        )
        record.undone_at, record.undone_by = now, actor
        record.save(update_fields=["undone_at", "undone_by"])

        kept_on_target = set(target.links.values_list("report_id", flat=True))
        for report in returned:
            if report.pk not in kept_on_target:
                dedup_index.unindex_report(report, target.pk)
        for report in returned:
            dedup_index.index_report(report, source.pk)
    given_record.undone_at, given_record.undone_by = record.undone_at, record.undone_by
    return source
