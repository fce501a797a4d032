from django.http import HttpRequest

from accounts.models import Postmaster


def roles(request: HttpRequest) -> dict:
    user = request.user
    is_superadmin = user.is_authenticated and user.is_superuser
    return {
        "is_superadmin": is_superadmin,
        "signed_in_mailbox": getattr(request, "mailbox", None),
        # The first-run question: a superadmin is asked until the host has a postmaster.
        "postmaster_missing": is_superadmin and not Postmaster.objects.filter(pk=1).exists(),
    }
