"""Browser pages where a signed-in person makes, lists and revokes their API keys.

A new key is shown once, on the page that answers the POST that made it (never
in a redirect's URL or the session), and then only its first characters."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ..models import ApiKey
from ..services import api_key_create, api_key_revoke, api_keys_of

MAX_ACTIVE_KEYS = 20


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("What the key is for, so you can tell keys apart, e.g. “monthly statistics”."),
    )
    scope = forms.ChoiceField(
        label=gettext_lazy("What the key may do"),
        choices=ApiKey.Scope.choices,
        initial=ApiKey.Scope.READ,
        widget=forms.RadioSelect,
    )


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def key_list(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    new_key = None
    status = 200
    if request.method == "POST":
        active = api_keys_of(request.user).filter(revoked_at__isnull=True).count()  # type: ignore[arg-type]
        if active >= MAX_ACTIVE_KEYS:
            form.is_valid()
            form.add_error(None, _("You have %(n)d active keys: revoke one before making another.") % {"n": active})
        if form.is_valid():
            key, raw = api_key_create(
                user=request.user,  # type: ignore[arg-type]
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
            )
            new_key = {"key": key, "raw": raw}
            form = ApiKeyForm()
        else:
            status = 400
    context = {"form": form, "keys": api_keys_of(request.user), "new_key": new_key}  # type: ignore[arg-type]
    return render(request, "api_keys/list.html", context, status=status)


@login_required
@require_POST
def key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = api_keys_of(request.user).filter(pk=pk).first()  # type: ignore[arg-type]
    if key is None:
        raise Http404
    api_key_revoke(key=key)
    messages.success(request, _("The key “%(name)s” was revoked: it no longer works.") % {"name": key.name})
    return redirect("api_keys:list")
