"""The admin's own API tokens: made (after the second factor, where they have one), shown
once, listed with when each was last used, revoked. The API itself is in api.endpoints."""

import time
from datetime import datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from api import actions
from api.forms import TokenForm
from api.models import ApiToken
from audit.log import actor_for
from core.access import admin_required
from core.views import run_action
from domains.models import Domain
from factors import actions as factors
from factors import passkeys
from factors.people import Person
from factors.views import second_step

PENDING = "api_token_pending"  # the token asked for, until the second factor confirms it
PENDING_SECONDS = 300


def _page(request: HttpRequest, form: TokenForm, created: tuple[ApiToken, str] | None = None) -> HttpResponse:
    tokens = ApiToken.objects.filter(owner=request.user).prefetch_related("domains")
    context = {"form": form, "tokens": tokens, "created": created, "api_url": request.build_absolute_uri("/api/v1/")}
    return render(request, "api/tokens.html", context)


def _create(request: HttpRequest, form: TokenForm, wanted: dict) -> HttpResponse:
    domains = None if wanted["all_domains"] else list(Domain.objects.filter(pk__in=wanted["domains"]))
    made = run_action(
        form,
        actions.create_token,
        request.user,
        wanted["name"],
        actor=actor_for(request),
        writes=wanted["writes"],
        domains=domains,
        expires_at=wanted["expires_at"],
    )
    # Shown in this answer only (not kept in the session, not redirected to): it exists nowhere else.
    return _page(request, TokenForm(owner=request.user) if made else form, created=made)


@never_cache
@require_http_methods(["GET", "POST"])
@admin_required
def tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None, owner=request.user)
    if request.method != "POST" or not form.is_valid():
        return _page(request, form)
    data = form.cleaned_data
    wanted = {
        "name": data["name"],
        "writes": data["writes"],
        "all_domains": data["all_domains"],
        "domains": [d.pk for d in data["domains"]],
        "expires_at": data["expires_at"],
    }
    if not factors.has_factor(factors.enrolment_of(Person(user=request.user))):
        return _create(request, form, wanted)
    expires = wanted["expires_at"].isoformat() if wanted["expires_at"] else None
    request.session[PENDING] = wanted | {"expires_at": expires, "at": time.time()}
    return redirect("api_token_confirm")


def _pending(request: HttpRequest) -> dict | None:
    wanted = request.session.get(PENDING)
    if not isinstance(wanted, dict) or time.time() - wanted.get("at", 0) > PENDING_SECONDS:
        return None
    return wanted


@never_cache
@require_http_methods(["GET", "POST"])
@admin_required
def confirm(request: HttpRequest) -> HttpResponse:
    """The second step of making a token, as of signing in (factors.views.login_second_factor):
    a passkey, a code from the app or a recovery code; wrong codes count as failed sign-ins."""
    wanted = _pending(request)
    if wanted is None:
        messages.error(request, "Ask for the token again: it was not confirmed within 5 minutes.")
        return redirect("api_tokens")
    person = Person(user=request.user)
    passed, context = second_step(request, person, person.sign_in_name)
    if passed:
        del request.session[PENDING]
        expires = wanted["expires_at"]
        wanted["expires_at"] = None if expires is None else datetime.fromisoformat(expires)
        return _create(request, TokenForm(owner=request.user), wanted)
    context["wanted"] = wanted
    return render(request, "api/confirm.html", context)


@require_POST
@admin_required
def confirm_passkey_options(request: HttpRequest) -> HttpResponse:
    enrolment = factors.enrolment_of(Person(user=request.user))
    if _pending(request) is None or enrolment is None:
        return redirect("api_tokens")
    options = passkeys.authentication_options(request, passkeys.SECOND_STEP, list(enrolment.passkeys.all()))
    return JsonResponse(options)


@require_POST
@admin_required
def revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.select_related("owner"), pk=token_id, owner=request.user)
    actions.revoke_token(token, actor=actor_for(request))
    messages.success(request, f"Revoked the token “{token.name}”: it stops working at once.")
    return redirect("api_tokens")
