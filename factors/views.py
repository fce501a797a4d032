"""Signing in (password, then a second factor or a passkey alone) and each person's own factors.

The superadmin's pages (who must have a factor, resetting someone's) are in factors.admin_views.
"""

from collections.abc import Callable
from functools import partial

from django.contrib import messages
from django.contrib.auth import authenticate, logout
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts import recent, sessions, throttle
from accounts.forms import LoginForm
from core.sealed import seal, unseal
from factors import actions, passkeys, policy, signin, totp
from factors.forms import (
    ConfirmPasswordForm,
    PasskeyAnswerForm,
    PasskeyForm,
    PasswordlessForm,
    RecoveryCodeForm,
    TotpCodeForm,
)
from factors.models import Passkey
from factors.passkeys import PasskeyRefused
from factors.people import Person, person_of, person_required

TOTP_SECRET = "factors_new_totp_secret"  # the secret being set up, until its first code is typed
WRONG_CODE = "That code is wrong, or was used already."


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return ""


def _password_person(request: HttpRequest, identifier: str, password: str) -> Person | None:
    if user := authenticate(request, username=identifier, password=password):
        return Person(user=user)
    if mailbox := sessions.authenticate_mailbox(identifier, password):
        return Person(mailbox=mailbox)
    return None


def _login_page(request: HttpRequest, form: LoginForm, passkey_error: str = "") -> HttpResponse:
    context = {"form": form, "next": _next_url(request), "passkey_error": passkey_error}
    return render(request, "factors/login.html", context)


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """One sign-in for both: an admin name, or a mailbox address with its mail password; then the
    second factor, if the person has one.

    Failures are counted per canonical account and per client (accounts.throttle states the rule).
    """
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        identifier, password = form.cleaned_data["username"], form.cleaned_data["password"]
        attempt = throttle.attempt(identifier, throttle.request_client(request))
        if wait := throttle.seconds_locked(attempt):
            form.add_error(None, throttle.locked_message(wait))
        elif person := _password_person(request, identifier, password):
            return signin.after_password(request, person, identifier, _next_url(request))
        else:
            throttle.record_failure(attempt, account_exists=throttle.account_exists(identifier))
            form.add_error(None, "The name or password is wrong, or the account is disabled.")
    return _login_page(request, form)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)  # flushes the session: mailbox sign-ins and half-finished ones included
    return redirect("login")


@require_POST
def login_passkey_options(request: HttpRequest) -> JsonResponse:
    return JsonResponse(passkeys.authentication_options(request, passkeys.PASSWORDLESS, []))


def _owner(passkey: Passkey) -> Person:
    enrolment = passkey.enrolment
    return Person(user=enrolment.user) if enrolment.user_id else Person(mailbox=enrolment.mailbox)


@require_POST
def login_passkey(request: HttpRequest) -> HttpResponse:
    """A passkey alone (passwordless), where its owner turned that on. Failures count against the
    passkey's account like wrong passwords; a passkey this panel does not know counts against no
    one, as a name that matches no account does."""
    form = PasskeyAnswerForm(request.POST)
    if not form.is_valid():
        return _login_page(request, LoginForm(), " ".join(form.errors.get("credential", [])))
    credential = form.cleaned_data["credential"]
    passkey = (
        Passkey.objects.select_related("enrolment__user", "enrolment__mailbox__domain")
        .filter(credential_id=passkeys.credential_id_of(credential) or "")
        .first()
    )
    if passkey is None:
        request.session.pop(passkeys.CHALLENGE, None)
        return _login_page(request, LoginForm(), "This passkey is not registered here: it may have been removed.")
    person = _owner(passkey)
    attempt = throttle.attempt(person.sign_in_name, throttle.request_client(request))
    if wait := throttle.seconds_locked(attempt):
        return _login_page(request, LoginForm(), throttle.locked_message(wait))
    try:
        passkeys.verify_assertion(request, passkeys.PASSWORDLESS, credential, passkey)
    except PasskeyRefused as e:
        throttle.record_failure(attempt, account_exists=True)
        return _login_page(request, LoginForm(), str(e))
    if not person.is_active():
        return _login_page(request, LoginForm(), "The account is disabled.")
    if not passkey.enrolment.passwordless:
        message = "This passkey is a second step only: sign in with your password, then use the passkey."
        return _login_page(request, LoginForm(), message)
    return signin.finish(request, person, person.sign_in_name, _next_url(request))


@require_POST
def login_second_factor_options(request: HttpRequest) -> HttpResponse:
    if (state := signin.pending(request)) is None:
        return redirect("login")
    enrolment = actions.enrolment_of(state[0])
    return JsonResponse(passkeys.authentication_options(request, passkeys.SECOND_STEP, list(enrolment.passkeys.all())))


def _second_step_passes(request: HttpRequest, person: Person, which: str, form) -> str | None:
    """None if the second step passed, else why not."""
    enrolment = actions.enrolment_of(person)
    if which == "code":
        return None if actions.check_totp(enrolment, form.cleaned_data["code"]) else WRONG_CODE
    if which == "recovery":
        left = actions.use_recovery_code(person, enrolment, form.cleaned_data["code"], actor=person.actor)
        if left is None:
            return "That recovery code is wrong, or was used already."
        messages.warning(request, f"You used a recovery code: {left} left. Make new ones on the sign-in security page.")
        return None
    credential = form.cleaned_data["credential"]
    passkey = enrolment.passkeys.filter(credential_id=passkeys.credential_id_of(credential) or "").first()
    if passkey is None:
        request.session.pop(passkeys.CHALLENGE, None)
        return "This passkey is not one of yours here: it may have been removed."
    try:
        passkeys.verify_assertion(request, passkeys.SECOND_STEP, credential, passkey)
    except PasskeyRefused as e:
        return str(e)
    return None


def second_step(request: HttpRequest, person: Person, identifier: str) -> tuple[bool, dict]:
    """Whether the second step posted passed, and the context its page shows (its forms, with
    errors, and which factors the person has). Failures count against `identifier` as failed
    sign-ins do. Signing in and confirming a new API token (api.views) both ask this way."""
    which = request.POST.get("form")
    forms = {
        "code": TotpCodeForm(request.POST if which == "code" else None),
        "recovery": RecoveryCodeForm(request.POST if which == "recovery" else None, prefix="recovery"),
        "passkey": PasskeyAnswerForm(request.POST if which == "passkey" else None),
    }
    form = forms.get(which)
    if request.method == "POST" and form is not None and form.is_valid():
        attempt = throttle.attempt(identifier, throttle.request_client(request))
        if wait := throttle.seconds_locked(attempt):
            form.add_error(None, throttle.locked_message(wait))
        elif (refused := _second_step_passes(request, person, which, form)) is None:
            return True, {}
        else:
            throttle.record_failure(attempt, account_exists=True)
            form.add_error(None, refused)
    enrolment = actions.enrolment_of(person)
    context = {
        "forms": forms,
        "has_totp": bool(enrolment and enrolment.totp_secret),
        "has_passkey": bool(enrolment and enrolment.passkeys.exists()),
        "has_recovery_codes": bool(enrolment and enrolment.recovery_codes.exists()),
    }
    return False, context


@require_http_methods(["GET", "POST"])
def login_second_factor(request: HttpRequest) -> HttpResponse:
    state = signin.pending(request)
    if state is None:
        messages.error(request, "Sign in again: the sign-in was not finished within 5 minutes.")
        return redirect("login")
    person, identifier, next_url = state
    passed, context = second_step(request, person, identifier)
    if passed:
        return signin.finish(request, person, identifier, next_url)
    return render(request, "factors/second_factor.html", context)


# Each person's own factors.


def _overview(request: HttpRequest, person: Person, **forms) -> HttpResponse:
    enrolment = actions.enrolment_of(person)
    context = {
        "person": person,
        "passkeys": list(enrolment.passkeys.all()) if enrolment else [],
        "has_totp": bool(enrolment and enrolment.totp_secret),
        "recovery_codes_left": enrolment.recovery_codes.count() if enrolment else 0,
        "passwordless_form": PasswordlessForm(initial={"passwordless": bool(enrolment and enrolment.passwordless)}),
        "passkey_form": forms.get("passkey_form") or PasskeyForm(),
        "requirement": policy.requirement(person),
        "setup_required": request.session.get(signin.SETUP_REQUIRED, False),
    }
    return render(request, "factors/overview.html", context)


@person_required
def overview(request: HttpRequest) -> HttpResponse:
    return _overview(request, person_of(request))


def _added_first_factor(request: HttpRequest, person: Person, what: str) -> HttpResponse:
    """After a factor is added: the recovery codes, shown once, if this was the first factor."""
    request.session.pop(signin.SETUP_REQUIRED, None)
    messages.success(request, what)
    if codes := actions.first_recovery_codes(person, actor=person.actor):
        return render(request, "factors/recovery_codes.html", {"codes": codes, "first": True})
    return redirect("factors")


@require_POST
@person_required
@recent.recent_sign_in_required
def passkey_options(request: HttpRequest) -> JsonResponse:
    person = person_of(request)
    enrolment = actions.enrolment_of(person, create=True)
    return JsonResponse(passkeys.registration_options(request, person, enrolment))


@require_POST
@person_required
@recent.recent_sign_in_required
def passkey_add(request: HttpRequest) -> HttpResponse:
    person = person_of(request)
    form = PasskeyForm(request.POST)
    if form.is_valid():
        try:
            new = passkeys.verify_registration(request, form.cleaned_data["credential"])
            actions.add_passkey(person, form.cleaned_data["name"], new, actor=person.actor)
        except (PasskeyRefused, ValidationError) as e:
            form.add_error(None, e.messages if isinstance(e, ValidationError) else str(e))
        else:
            return _added_first_factor(request, person, f"Added the passkey {form.cleaned_data['name']}.")
    return _overview(request, person, passkey_form=form)


def _removal(request: HttpRequest, remove: Callable[[], None], what: str) -> HttpResponse:
    try:
        remove()
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    else:
        messages.success(request, what)
    return redirect("factors")


@require_http_methods(["GET", "POST"])
@person_required
@recent.recent_sign_in_required
def passkey_remove(request: HttpRequest, passkey_id: int) -> HttpResponse:
    person = person_of(request)
    passkey = get_object_or_404(Passkey, pk=passkey_id, **{f"enrolment__{k}": v for k, v in person.owner.items()})
    if request.method == "POST":
        remove = partial(actions.remove_passkey, person, passkey.pk, actor=person.actor)
        return _removal(request, remove, f"Removed the passkey {passkey.name}.")
    context = {"what": f"the passkey {passkey.name}", "requirement": policy.requirement(person)}
    return render(request, "factors/confirm_remove.html", context)


@require_http_methods(["GET", "POST"])
@person_required
@recent.recent_sign_in_required
def totp_setup(request: HttpRequest) -> HttpResponse:
    """A new secret, shown as a QR code and as text; saved only once a code from it is typed."""
    person = person_of(request)
    try:
        sealed = request.session.get(TOTP_SECRET)
        secret = unseal(sealed, "the authenticator app's new key").decode() if sealed else ""
    except ImproperlyConfigured:  # a set-up begun before keys were sealed, or under another key
        secret = ""
    if not secret:
        secret = totp.new_secret()
        request.session[TOTP_SECRET] = seal(secret.encode())  # sessions are rows in the database too
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        found = totp.match(secret, form.cleaned_data["code"], after_step=None)
        if found is None:
            form.add_error("code", "That code does not match: check the app's clock, or type the next code.")
        else:
            actions.set_totp(person, secret, found.step, actor=person.actor)
            del request.session[TOTP_SECRET]
            return _added_first_factor(request, person, "Your authenticator app is set up.")
    rp_id, _ = passkeys.relying_party(request)
    uri = totp.provisioning_uri(secret, person.sign_in_name, f"mailadmin {rp_id}")
    context = {"form": form, "qr": totp.qr_svg(uri), "secret": totp.grouped(secret), "person": person}
    context["has_totp"] = bool(getattr(actions.enrolment_of(person), "totp_secret", ""))
    return render(request, "factors/totp_setup.html", context)


@require_http_methods(["GET", "POST"])
@person_required
@recent.recent_sign_in_required
def totp_remove(request: HttpRequest) -> HttpResponse:
    person = person_of(request)
    if not getattr(actions.enrolment_of(person), "totp_secret", ""):
        return redirect("factors")
    if request.method == "POST":
        remove = partial(actions.remove_totp, person, actor=person.actor)
        return _removal(request, remove, "Your authenticator app no longer signs you in.")
    context = {"what": "your authenticator app", "requirement": policy.requirement(person)}
    return render(request, "factors/confirm_remove.html", context)


@require_http_methods(["GET", "POST"])
@person_required
@recent.recent_sign_in_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    person = person_of(request)
    enrolment = actions.enrolment_of(person)
    if request.method == "POST":
        if not actions.has_factor(enrolment):
            messages.error(request, "Add a passkey or an authenticator app first: recovery codes stand in for one.")
            return redirect("factors")
        codes = actions.new_recovery_codes(person, actor=person.actor)
        return render(request, "factors/recovery_codes.html", {"codes": codes})
    left = enrolment.recovery_codes.count() if enrolment else 0
    return render(request, "factors/recovery_codes.html", {"left": left, "has_factor": actions.has_factor(enrolment)})


@require_POST
@person_required
@recent.recent_sign_in_required
def passwordless(request: HttpRequest) -> HttpResponse:
    person = person_of(request)
    form = PasswordlessForm(request.POST)
    if form.is_valid():
        on = form.cleaned_data["passwordless"]
        try:
            actions.set_passwordless(person, on, actor=person.actor)
        except ValidationError as e:
            messages.error(request, " ".join(e.messages))
        else:
            messages.success(
                request, "A passkey alone signs you in now." if on else "Your passkeys are a second step now."
            )
    return redirect("factors")


@require_http_methods(["GET", "POST"])
@person_required
def confirm_identity(request: HttpRequest) -> HttpResponse:
    """The password again, before a change to how this person signs in (accounts.recent). Wrong
    guesses count against the account like failed sign-ins."""
    person = person_of(request)
    form = ConfirmPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        attempt = throttle.attempt(person.sign_in_name, throttle.request_client(request))
        if wait := throttle.seconds_locked(attempt):
            form.add_error(None, throttle.locked_message(wait))
        elif _password_person(request, person.sign_in_name, form.cleaned_data["password"]) == person:
            throttle.forget_account(attempt)
            recent.mark_signed_in(request)
            return redirect(_next_url(request) or "factors")
        else:
            throttle.record_failure(attempt, account_exists=True)
            form.add_error("password", "That is not your password.")
    return render(request, "factors/confirm_identity.html", {"form": form, "next": _next_url(request)})
