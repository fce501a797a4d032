"""Signing in in two steps: after the password, a "half signed in" session that is not signed in.

The pending state names the person, the name they typed (the throttle counts the second step's
failures against the same account as the password's), where to go afterwards and when it began.
Nobody is signed in (no django login(), no mailbox session) until the second step passes, and the
password's success does not clear the account's failure count until then: otherwise every right
password would buy five more guesses at the code.
"""

import time

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts import recent, sessions, throttle
from accounts.models import Mailbox, User
from factors import actions, policy
from factors.people import Person

PENDING = "factors_pending"
PENDING_SECONDS = 300
# Set at sign-in for an admin who must have a second factor and has none: every admin page
# leads to the set-up page until they add one (factors.middleware).
SETUP_REQUIRED = "factors_setup_required"


def after_password(request: HttpRequest, person: Person, identifier: str, next_url: str) -> HttpResponse:
    """The password was right: ask for the second factor if the person has one, else sign in."""
    if not actions.has_factor(actions.enrolment_of(person)):
        return finish(request, person, identifier, next_url)
    request.session.flush()  # a new session key: nothing from before the password survives
    request.session[PENDING] = {
        "kind": person.audit_type,
        "pk": (person.user or person.mailbox).pk,
        "identifier": identifier,
        "next": next_url,
        "at": time.time(),
    }
    return redirect("login_second_factor")


def pending(request: HttpRequest) -> tuple[Person, str, str] | None:
    """(person, the name they typed, where to go next) of a half-signed-in session, or None
    when there is none, it is older than PENDING_SECONDS, or the account was disabled since."""
    state = request.session.get(PENDING)
    if not isinstance(state, dict) or time.time() - state.get("at", 0) > PENDING_SECONDS:
        return None
    if state["kind"] == "admin":
        user = User.objects.filter(pk=state["pk"]).first()
        person = Person(user=user) if user else None
    else:
        mailbox = Mailbox.objects.select_related("domain").filter(pk=state["pk"]).first()
        person = Person(mailbox=mailbox) if mailbox else None
    if person is None or not person.is_active():
        return None
    return person, state["identifier"], state["next"]


def finish(request: HttpRequest, person: Person, identifier: str, next_url: str) -> HttpResponse:
    """Sign the person in (a new session either way) and send them on."""
    if person.is_admin:
        request.session.flush()
        login(request, person.user)
        landing = next_url or "/"
    else:
        sessions.login_mailbox(request, person.mailbox)
        landing = reverse("account")
    throttle.forget_account(throttle.attempt(identifier, throttle.request_client(request)))
    recent.mark_signed_in(request)
    if person.is_admin and policy.requirement(person) and not actions.has_factor(actions.enrolment_of(person)):
        request.session[SETUP_REQUIRED] = True
        landing = reverse("factors")
    return redirect(landing)
