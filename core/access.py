"""Who may do what, decided in one place.

Admin pages need a signed-in admin: anonymous visitors are sent to the login page and mailbox
users get 403. Objects outside an admin's domains give 404 (their existence is not disclosed):
each app's access helper does that (domains.access.domain_for, accounts.access.mailbox_for);
actions reserved to superadmins give 403 to domain admins.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def admin_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            if request.mailbox:
                raise PermissionDenied("Mailbox users cannot use the admin pages.")
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


def superadmin_required(view: View) -> View:
    @wraps(view)
    @admin_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_superuser:
            raise PermissionDenied("Only superadmins can do this.")
        return view(request, *args, **kwargs)

    return wrapper


def mailbox_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.mailbox:
            if request.user.is_authenticated:
                raise PermissionDenied("This page is for mailbox users.")
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper
