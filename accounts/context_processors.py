from django.http import HttpRequest


def roles(request: HttpRequest) -> dict:
    user = request.user
    return {
        "is_superadmin": user.is_authenticated and user.is_superuser,
        "signed_in_mailbox": getattr(request, "mailbox", None),
    }
