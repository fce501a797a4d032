from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from domains.models import Domain


def domain_for(request: HttpRequest, name: str) -> Domain:
    """The domain called `name` if the signed-in admin manages it, else 404 (its existence is not disclosed)."""
    return get_object_or_404(Domain.objects.managed_by(request.user).select_related("alias_of"), name=name)
