"""Reports submitted through the API: the web form's validation, the one service
(``incidents.services.report_submit``), and the memory of ``Idempotency-Key``s."""

import hashlib
import json
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from incidents import services
from incidents.forms import HazardGuessField, ReportForm
from incidents.models import Report
from taxonomy.models import Term

from .models import ApiKey, IdempotentRequest


class ApiReportForm(ReportForm):
    """The web form's fields and rules; hazards by code, no files, no honeypot."""

    hazard_guesses = HazardGuessField(
        required=False,
        to_field_name="code",
        queryset=Term.objects.filter(vocabulary__code="iasr-2025", parent__isnull=False, deprecated_by__isnull=True),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("evidence", "website", "same_as"):
            self.fields.pop(name)


def _form_data(data: dict[str, Any]) -> dict[str, Any]:
    """The JSON body as the form's fields expect it."""
    form_data: dict[str, Any] = {
        name: data.get(name) or ""
        for name in ("title", "text", "ai_system", "harm", "submitter_role", "source_url", "contact_email")
    }
    form_data["date_occurred"] = data["date_occurred"].isoformat() if data.get("date_occurred") else ""
    form_data["countries"] = [c.upper() for c in data.get("countries") or []]
    form_data["links"] = "\n".join(data.get("links") or [])
    form_data["hazard_guesses"] = list(data.get("hazard_guesses") or [])
    form_data["consent"] = "on" if data.get("consent") else ""
    return form_data


def submit(data: dict[str, Any]) -> Report:
    values = _form_data(data)
    form = ApiReportForm(MultiValueDict({k: v if isinstance(v, list) else [v] for k, v in values.items()}))
    if not form.is_valid():
        raise serializers.ValidationError({field: list(errors) for field, errors in form.errors.items()})
    try:
        return services.report_submit(**form.submit_kwargs(), channel=Report.Channel.API)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.message_dict) from exc


def fingerprint(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def receipt(report: Report, request: Request) -> dict[str, Any]:
    return {
        "id": report.pk,
        "status": report.status,
        "status_url": request.build_absolute_uri(reverse("reporting:status", args=[report.status_token])),
        "created": report.created.isoformat(),
    }


def remember(key: ApiKey, idempotency_key: str, digest: str, report: Report) -> None:
    IdempotentRequest.objects.create(api_key=key, key=idempotency_key, fingerprint=digest, report=report)


def replay(key: ApiKey, idempotency_key: str, digest: str, request: Request) -> Response | None:
    """The first answer again for a retried request, a 422 for a reused key, or None."""
    earlier = IdempotentRequest.objects.filter(api_key=key, key=idempotency_key).select_related("report").first()
    if earlier is None:
        return None
    if earlier.fingerprint != digest:
        return Response(
            {
                "type": "client_error",
                "errors": [
                    {
                        "code": "idempotency_key_reused",
                        "detail": str(_("This Idempotency-Key was used for a different request.")),
                        "attr": "Idempotency-Key",
                    }
                ],
            },
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    response = Response(receipt(earlier.report, request), status=status.HTTP_200_OK)
    response["Idempotent-Replayed"] = "true"
    return response
