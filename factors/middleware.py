from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from factors import actions, policy
from factors.people import Person
from factors.signin import SETUP_REQUIRED

# What an admin who must set up a second factor may still open.
ALLOWED = {"factors", "passkey_options", "passkey_add", "totp_setup", "recovery_codes", "login", "logout"}


class SecondFactorSetupMiddleware:
    """Leads an admin who must have a second factor, and signed in without one, to the set-up
    page from every other page, until they add one (the flag is in their session: factors.signin)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view, args, kwargs) -> HttpResponse | None:
        if not request.session.get(SETUP_REQUIRED) or not request.user.is_authenticated:
            return None
        if request.resolver_match.url_name in ALLOWED:
            return None
        # Set up from another session since, or no longer required: these queries run only
        # for a flagged session, never on an ordinary request.
        person = Person(user=request.user)
        if actions.has_factor(actions.enrolment_of(person)) or not policy.requirement(person):
            del request.session[SETUP_REQUIRED]
            return None
        messages.warning(request, "Set up a second factor first: a superadmin requires one for your sign-in.")
        return redirect("factors")
