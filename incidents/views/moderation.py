"""Moderation: the queue, reviewing a report, editing, tagging and publishing
incidents. Moderators only. Each action answers htmx with the fragment it
changed and a normal request with a redirect, so it all works without JS."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.roles import is_moderator
from config.http import HtmxHttpRequest
from taxonomy.models import Vocabulary

from .. import selectors, services
from ..forms import EntityForm, IncidentEditForm, RejectForm, TagForm, WithdrawForm
from ..models import Evidence, Incident, MergeRecord, Report, ReportIncidentLink

View = Callable[..., HttpResponseBase]


def moderator_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HtmxHttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_moderator(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def get_report_for_moderator(pk: int) -> Report:
    return get_object_or_404(Report.objects.select_related("claimed_by", "submitter"), pk=pk)


def get_incident_for_moderator(pk: int) -> Incident:
    return get_object_or_404(Incident.objects.select_related("severity"), pk=pk)


def _done(request: HtmxHttpRequest, url: str) -> HttpResponse:
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


# --- Queue and reports ------------------------------------------------------

QUEUE_STATUSES = [
    ("open", gettext_lazy("Open (received or in review)")),
    ("received", gettext_lazy("Received")),
    ("in_review", gettext_lazy("In review")),
    ("accepted", gettext_lazy("Accepted")),
    ("rejected", gettext_lazy("Rejected")),
    ("all", gettext_lazy("All")),
]
QUEUE_AGES = [
    ("", gettext_lazy("Any age")),
    ("1d", gettext_lazy("Today")),
    ("7d", gettext_lazy("1 to 7 days")),
    ("30d", gettext_lazy("7 to 30 days")),
    ("older", gettext_lazy("Older than 30 days")),
]


@moderator_required
@require_GET
def queue(request: HtmxHttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    channel = request.GET.get("channel", "")
    age = request.GET.get("age", "")
    mine = request.GET.get("mine") == "1"
    reports = selectors.report_queue(status=status, channel=channel, age=age, mine_user=request.user if mine else None)[
        :200
    ]
    context = {
        "reports": reports,
        "status": status,
        "channel": channel,
        "age": age,
        "mine": mine,
        "statuses": QUEUE_STATUSES,
        "channels": Report.Channel.choices,
        "ages": QUEUE_AGES,
    }
    template = "moderation/_queue_table.html" if request.htmx else "moderation/queue.html"
    return render(request, template, context)


def _report_context(report: Report, **extra: Any) -> dict[str, Any]:
    return {
        "report": report,
        "evidence": report.evidence.all(),
        "guesses": [t.term for t in report.taggings.select_related("term")],
        "links": report.links.select_related("incident"),
        "events": report.events.select_related("actor"),
        "dedup": getattr(report, "dedup", None) if hasattr(report, "dedup") else None,
        "duplicates": selectors.report_duplicate_candidates(report),
        "sender_pick": next(
            (e.detail.get("incident") for e in report.events.all() if e.action == "sender_says_same_as"), None
        ),
        "reject_form": RejectForm(),
        **extra,
    }


@moderator_required
@require_GET
def report_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    report = get_report_for_moderator(pk)
    return render(request, "moderation/report_detail.html", _report_context(report))


def _report_panel(request: HtmxHttpRequest, report: Report, status: int = 200, **extra: Any) -> HttpResponse:
    if request.htmx:
        return render(request, "moderation/_report_actions.html", _report_context(report, **extra), status=status)
    if status >= 400:
        return render(request, "moderation/report_detail.html", _report_context(report, **extra), status=status)
    return redirect("moderation:report", pk=report.pk)


@moderator_required
@require_POST
def report_claim(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    report = get_report_for_moderator(pk)
    try:
        services.report_claim(report=report, actor=request.user)
    except services.ClaimConflict as exc:
        return _report_panel(request, report, status=409, error=str(exc))
    return _report_panel(request, report)


@moderator_required
@require_POST
def report_release(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    report = get_report_for_moderator(pk)
    services.report_release(report=report, actor=request.user)
    return _report_panel(request, report)


def _require_claim(request: HtmxHttpRequest, report: Report) -> None:
    """Acting on a report claimed by someone else is refused."""
    if report.claimed_by_id and report.claimed_by_id != request.user.pk:
        raise services.ClaimConflict(_("%(name)s is working on this report.") % {"name": report.claimed_by})


def _claim_conflict(request: HtmxHttpRequest, report: Report) -> HttpResponse | None:
    """The 409 answer when another moderator holds the claim, else None."""
    try:
        _require_claim(request, report)
    except services.ClaimConflict as exc:
        return _report_panel(request, report, status=409, error=str(exc))
    return None


@moderator_required
@require_POST
def report_reject(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    report = get_report_for_moderator(pk)
    form = RejectForm(request.POST)
    try:
        _require_claim(request, report)
        if not form.is_valid():
            return _report_panel(request, report, status=400, reject_form=form)
        services.report_reject(report=report, actor=request.user, reason=form.cleaned_data["reason"])
    except services.ClaimConflict as exc:
        return _report_panel(request, report, status=409, error=str(exc))
    messages.success(request, _("Report rejected; the reason is shown on its status page."))
    return _report_panel(request, report)


@moderator_required
@require_POST
def report_new_incident(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    report = get_report_for_moderator(pk)
    if (conflict := _claim_conflict(request, report)) is not None:
        return conflict
    incident = services.incident_create_from_report(report=report, actor=request.user)
    messages.success(request, _("Draft incident %(id)s opened from the report.") % {"id": incident.public_id})
    return _done(request, f"/moderation/incidents/{incident.pk}/")


@moderator_required
@require_GET
def attach_search(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    report = get_report_for_moderator(pk)
    results = selectors.incident_search_for_attach(request.GET.get("q", ""))
    if request.htmx:
        return render(request, "moderation/_attach_results.html", {"report": report, "results": results})
    return render(request, "moderation/report_detail.html", _report_context(report, results=results))


@moderator_required
@require_POST
def report_attach(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    report = get_report_for_moderator(pk)
    incident_id = request.POST.get("incident", "")
    if not incident_id.isdigit():
        raise Http404
    incident = get_object_or_404(Incident, pk=int(incident_id))
    if (conflict := _claim_conflict(request, report)) is not None:
        return conflict
    services.report_attach(report=report, incident=incident, actor=request.user)
    messages.success(request, _("Report added to %(id)s.") % {"id": incident.public_id})
    return _report_panel(request, report)


@moderator_required
@require_GET
def evidence_download(request: HtmxHttpRequest, pk: int) -> FileResponse:
    evidence = get_object_or_404(Evidence, pk=pk)
    response = FileResponse(
        evidence.file.open("rb"),
        as_attachment=True,
        filename=evidence.original_name,
        content_type=evidence.content_type,
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- Incidents --------------------------------------------------------------


@moderator_required
@require_GET
def incident_list(request: HtmxHttpRequest) -> HttpResponse:
    status = request.GET.get("status", "draft")
    incidents = Incident.objects.all()
    if status in Incident.Status.values:
        incidents = incidents.filter(status=status)
    incidents = incidents.annotate(report_count=Count("links")).order_by("-modified")[:200]
    return render(
        request,
        "moderation/incident_list.html",
        {"incidents": incidents, "status": status, "statuses": Incident.Status.choices},
    )


def _tag_vocabularies() -> Any:
    return Vocabulary.objects.filter(code__in=services.TAG_VOCABULARIES).prefetch_related("terms")


def _incident_context(incident: Incident, **extra: Any) -> dict[str, Any]:
    vocabularies = _tag_vocabularies()
    current = [t.term for t in incident.taggings.select_related("term")]
    context = {
        "incident": incident,
        "edit_form": IncidentEditForm(instance=incident),
        "tag_form": TagForm(vocabularies=vocabularies, initial_terms=current),
        "entity_form": EntityForm(),
        "withdraw_form": WithdrawForm(),
        "entity_links": incident.entity_links.select_related("entity"),
        "report_links": incident.links.select_related("report"),
        "revisions": incident.revisions.select_related("actor")[:50],
        "problems": services.incident_publish_problems(incident),
        "merge_record": (
            MergeRecord.objects.filter(source=incident, undone_at__isnull=True)
            .select_related("target", "actor")
            .first()
            if incident.status == Incident.Status.MERGED
            else None
        ),
        "merged_here": MergeRecord.objects.filter(target=incident, undone_at__isnull=True).select_related(
            "source", "actor"
        ),
    }
    context.update(extra)
    return context


def _incident_panel(request: HtmxHttpRequest, incident: Incident, status: int = 200, **extra: Any) -> HttpResponse:
    incident.refresh_from_db()
    context = _incident_context(incident, **extra)
    if request.htmx:
        return render(request, "moderation/_incident_workspace.html", context, status=status)
    if status >= 400:
        return render(request, "moderation/incident_edit.html", context, status=status)
    return redirect("moderation:incident", pk=incident.pk)


@moderator_required
@require_GET
def incident_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_moderator(pk)
    return render(request, "moderation/incident_edit.html", _incident_context(incident))


@moderator_required
@require_POST
def incident_save(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_moderator(pk)
    form = IncidentEditForm(request.POST, instance=Incident.objects.get(pk=incident.pk))
    if not form.is_valid():
        return _incident_panel(request, incident, status=400, edit_form=form)
    services.incident_update(
        incident=incident, actor=request.user, **{name: form.cleaned_data[name] for name in form.fields}
    )
    messages.success(request, _("Changes saved."))
    return _incident_panel(request, incident)


@moderator_required
@require_POST
def incident_tags(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_moderator(pk)
    form = TagForm(request.POST, vocabularies=_tag_vocabularies())
    if not form.is_valid():
        return _incident_panel(request, incident, status=400, tag_form=form)
    try:
        services.incident_set_tags(incident=incident, actor=request.user, terms=form.terms())
    except ValidationError as exc:
        form.add_error(None, exc)
        return _incident_panel(request, incident, status=400, tag_form=form)
    messages.success(request, _("Tags saved."))
    return _incident_panel(request, incident)


@moderator_required
@require_POST
def incident_entity_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_moderator(pk)
    form = EntityForm(request.POST)
    if not form.is_valid():
        return _incident_panel(request, incident, status=400, entity_form=form)
    try:
        services.incident_add_entity(incident=incident, actor=request.user, **form.cleaned_data)
    except ValidationError as exc:
        form.add_error("name", exc)
        return _incident_panel(request, incident, status=400, entity_form=form)
    return _incident_panel(request, incident)


@moderator_required
@require_POST
def incident_entity_remove(request: HtmxHttpRequest, pk: int, link_id: int) -> HttpResponse:
    incident = get_incident_for_moderator(pk)
    services.incident_remove_entity(incident=incident, actor=request.user, link_id=link_id)
    return _incident_panel(request, incident)


@moderator_required
@require_POST
def incident_publish(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_moderator(pk)
    try:
        services.incident_publish(incident=incident, actor=request.user)
    except ValidationError as exc:
        return _incident_panel(request, incident, status=400, publish_errors=exc.messages)
    messages.success(request, _("%(id)s is published.") % {"id": incident.public_id})
    return _incident_panel(request, incident)


@moderator_required
@require_POST
def incident_withdraw(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_moderator(pk)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        return _incident_panel(request, incident, status=400, withdraw_form=form)
    try:
        services.incident_withdraw(incident=incident, actor=request.user, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        form.add_error(None, exc)
        return _incident_panel(request, incident, status=400, withdraw_form=form)
    messages.success(request, _("%(id)s is withdrawn.") % {"id": incident.public_id})
    return _incident_panel(request, incident)


# --- Duplicates ---------------------------------------------------------------


@moderator_required
@require_GET
def report_compare(request: HtmxHttpRequest, pk: int, incident_pk: int) -> HttpResponse:
    """The report and a candidate incident side by side."""
    report = get_report_for_moderator(pk)
    incident = get_incident_for_moderator(incident_pk)
    candidate = next(
        (c for c in selectors.report_duplicate_candidates(report) if c["incident"].pk == incident.pk), None
    )
    return render(
        request,
        "moderation/compare.html",
        {
            "report": report,
            "incident": incident,
            "candidate": candidate,
            "incident_reports": incident.links.select_related("report").order_by("report__date_published")[:20],
        },
    )


@moderator_required
@require_POST
def pair_same(request: HtmxHttpRequest, pk: int, incident_pk: int) -> HttpResponse:
    report = get_report_for_moderator(pk)
    incident = get_incident_for_moderator(incident_pk)
    if (conflict := _claim_conflict(request, report)) is not None:
        return conflict
    services.pair_mark_same(report=report, incident=incident, actor=request.user)
    messages.success(request, _("Report added to %(id)s.") % {"id": incident.public_id})
    return _report_panel(request, report)


@moderator_required
@require_POST
def pair_different(request: HtmxHttpRequest, pk: int, incident_pk: int) -> HttpResponse:
    report = get_report_for_moderator(pk)
    incident = get_incident_for_moderator(incident_pk)
    link = report.links.filter(incident=incident).first()
    if link is not None:
        services.link_undo(link=link, actor=request.user)
    else:
        services.pair_mark_different(report=report, incident=incident, actor=request.user)
    messages.success(
        request, _("Noted: not a duplicate of %(id)s. It will not be suggested again.") % {"id": incident.public_id}
    )
    return _report_panel(request, report)


@moderator_required
@require_POST
def link_confirm(request: HtmxHttpRequest, pk: int, link_pk: int) -> HttpResponse:
    report = get_report_for_moderator(pk)
    link = get_object_or_404(ReportIncidentLink.objects.select_related("incident", "report"), pk=link_pk, report=report)
    services.link_confirm(link=link, actor=request.user)
    messages.success(request, _("Link to %(id)s confirmed.") % {"id": link.incident.public_id})
    return _report_panel(request, report)


# --- Merging incidents --------------------------------------------------------


def _merge_panel(request: HtmxHttpRequest, incident: Incident, **extra: Any) -> HttpResponse:
    """htmx gets the merge panel; a plain request the whole workspace with the panel filled in."""
    if request.htmx:
        return render(request, "moderation/_merge_panel.html", {"incident": incident, **extra})
    return render(request, "moderation/incident_edit.html", _incident_context(incident, **extra))


@moderator_required
@require_GET
def merge_search(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_moderator(pk)
    q = request.GET.get("q", "").strip()
    results = [found for found in selectors.incident_search_for_attach(q) if found.pk != incident.pk]
    return _merge_panel(request, incident, merge_q=q, merge_results=results)


@moderator_required
@require_GET
def merge_preview(request: HtmxHttpRequest, pk: int, target_pk: int) -> HttpResponse:
    """What merging into ``target_pk`` would move, and the button to do it."""
    incident = get_incident_for_moderator(pk)
    target = get_incident_for_moderator(target_pk)
    return _merge_panel(
        request,
        incident,
        merge_plan=services.incident_merge_plan(source=incident, target=target),
        merge_problems=services.incident_merge_problems(source=incident, target=target),
    )


@moderator_required
@require_POST
def incident_merge(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_moderator(pk)
    target_id = request.POST.get("target", "")
    if not target_id.isdigit():
        raise Http404
    target = get_incident_for_moderator(int(target_id))
    try:
        services.incident_merge(source=incident, target=target, actor=request.user)
    except ValidationError as exc:
        return _incident_panel(request, incident, status=400, merge_errors=exc.messages)
    messages.success(
        request, _("%(source)s is merged into %(target)s.") % {"source": incident.public_id, "target": target.public_id}
    )
    return _incident_panel(request, incident)


@moderator_required
@require_POST
def incident_unmerge(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_moderator(pk)
    record_id = request.POST.get("record", "")
    if not record_id.isdigit():
        raise Http404
    record = get_object_or_404(MergeRecord.objects.select_related("target"), pk=int(record_id), source=incident)
    try:
        services.incident_unmerge(record=record, actor=request.user)
    except ValidationError as exc:
        return _incident_panel(request, incident, status=409, merge_errors=exc.messages)
    messages.success(
        request,
        _("The merge into %(target)s is undone: %(source)s has its reports back.")
        % {"source": incident.public_id, "target": record.target.public_id},
    )
    return _incident_panel(request, incident)
