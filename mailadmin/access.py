"""Who may do what, decided in one place.

Admin pages need a signed-in admin: anonymous visitors are sent to the login page and mailbox
users get 403. Objects outside an admin's domains give 404 (their existence is not disclosed);
actions reserved to superadmins give 403 to domain admins.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from accounts.models import Alias, Mailbox
from domains.models import Domain

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


def domain_for(request: HttpRequest, name: str) -> Domain:
    return get_object_or_404(Domain.objects.managed_by(request.user).select_related("alias_of"), name=name)


def mailbox_for(request: HttpRequest, domain_name: str, local_part: str) -> Mailbox:
    domain = domain_for(request, domain_name)
    mailbox = get_object_or_404(Mailbox, domain=domain, local_part=local_part)
    mailbox.domain = domain
    return mailbox


def alias_for(request: HttpRequest, domain_name: str, alias_id: int) -> Alias:
    domain = domain_for(request, domain_name)
    alias = get_object_or_404(Alias, domain=domain, pk=alias_id)
    alias.domain = domain
    return alias
