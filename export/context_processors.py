from django.http import HttpRequest

from export.models import ConfigState


def config_state(request: HttpRequest) -> dict:
    if not request.user.is_authenticated:
        return {}
    return {"config_state": ConfigState.objects.filter(pk=1).first()}
