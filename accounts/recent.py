"""Changes to how someone signs in (passkeys, authenticator apps, recovery codes, app passwords)
ask for a recent sign-in: a session left open on a shared computer, or stolen, cannot add the
thief's own passkey or app password. "Recent" is the last RECENT_SECONDS since the person signed
in or confirmed their password (factors.views.confirm_identity)."""

import time
from functools import wraps

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from core.access import View

SIGNED_IN_AT = "signed_in_at"
RECENT_SECONDS = 15 * 60


def mark_signed_in(request: HttpRequest) -> None:
    request.session[SIGNED_IN_AT] = time.time()


def signed_in_recently(request: HttpRequest) -> bool:
    return time.time() - request.session.get(SIGNED_IN_AT, 0) <= RECENT_SECONDS


def recent_sign_in_required(view: View) -> View:
    """Put after the decorator that requires a signed-in person. Without a recent sign-in, the
    person confirms their password first and comes back here (a form they sent is sent again)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if signed_in_recently(request):
            return view(request, *args, **kwargs)
        back = request.get_full_path() if request.method == "GET" else request.headers.get("referer", "")
        if request.method != "GET":
            messages.info(request, "Confirm your password, then make the change again.")
        query = urlencode({"next": back}) if back else ""
        return redirect(f"{reverse('confirm_identity')}?{query}" if query else reverse("confirm_identity"))

    return wrapper
