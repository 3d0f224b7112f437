"""Public reporting: the form, its inline validation, the private status page,
and "My reports" for signed-in users."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.core import get_usage, is_ratelimited

from config.http import HtmxHttpRequest

from .. import selectors, services
from ..forms import ReportForm
from ..models import Report


def _form_context(form: ReportForm) -> dict[str, object]:
    # The hazard choices show each category's plain-language explanation.
    return {"form": form, "hazard_terms": form.fields["hazard_guesses"].queryset}  # type: ignore[attr-defined]


def _rate_limited(request: HtmxHttpRequest) -> bool:
    """Anonymous submissions are limited per address; signed-in users are not.
    Only stored reports count (``_count_submission``), so correcting a form
    never uses up the limit."""
    if request.user.is_authenticated:
        return False
    usage = get_usage(request, group="report-submit", key="ip", rate=settings.REPORT_RATE_LIMIT, increment=False)
    return usage is not None and usage["count"] >= usage["limit"]


def _count_submission(request: HtmxHttpRequest) -> None:
    if not request.user.is_authenticated:
        get_usage(request, group="report-submit", key="ip", rate=settings.REPORT_RATE_LIMIT, increment=True)


@require_http_methods(["GET", "POST"])
def report_create(request: HtmxHttpRequest) -> HttpResponse:
    form = ReportForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if _rate_limited(request):
            form.is_valid()
            messages.error(
                request,
                _(
                    "Too many reports were sent from your network in a short time. Your text is still here: "
                    "please try again in an hour, or sign in to send more."
                ),
            )
            return render(request, "reporting/report_form.html", _form_context(form), status=429)
        if form.is_valid():
            try:
                report = services.report_submit(
                    **form.submit_kwargs(), channel=Report.Channel.WEB, submitter=request.user
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                _count_submission(request)
                messages.success(
                    request,
                    _("Thank you. Your report was received. Keep the address of this page to follow it."),
                )
                return redirect(report.get_status_url())
        status = 400
    else:
        status = 200
    return render(request, "reporting/report_form.html", _form_context(form), status=status)


@require_POST
def report_validate(request: HtmxHttpRequest, field: str) -> HttpResponse:
    """htmx: validate one field as the person leaves it; return its fragment."""
    form = ReportForm(request.POST)
    if field not in form.fields or field in {"evidence", "website", "consent"}:
        raise Http404
    form.is_valid()
    return render(request, "reporting/_field.html", {**_form_context(form), "field": form[field]})


@require_GET
def report_status(request: HtmxHttpRequest, token: str) -> HttpResponse:
    report = Report.objects.filter(status_token=token).first()
    if report is None:
        raise Http404
    return render(
        request,
        "reporting/status.html",
        {
            "report": report,
            "events": selectors.report_public_events(report),
            "incidents": selectors.report_public_incidents(report),
        },
    )


@login_required
@require_GET
def my_reports(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "reporting/my_reports.html", {"reports": selectors.reports_of_user(request.user)})


@require_GET
def report_similar(request: HtmxHttpRequest) -> HttpResponse:
    """htmx, as a person types: up to three published incidents that look like
    the one being reported. Debounced in the page, limited per address here."""
    if is_ratelimited(request, group="report-similar", key="ip", rate="30/m", increment=True):
        return HttpResponse(status=204)
    title = request.GET.get("title", "")[:300]
    text = request.GET.get("text", "")[:3000]
    matches = []
    if len((title + " " + text).split()) >= 3:
        from ..dedup.engine import similar_published

        matches = similar_published(title, text, limit=3)
    return render(request, "reporting/_similar.html", {"matches": matches})
