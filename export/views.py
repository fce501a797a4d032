from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from audit.log import actor_for
from core.access import superadmin_required
from core.http import HtmxHttpRequest
from export.apply import apply_pending, preview
from export.dirty import config_state
from export.models import Generation
from export.render import RenderError

APPLY_NOW_TIMEOUT = 20


@superadmin_required
def config_status(request: HtmxHttpRequest) -> HttpResponse:
    try:
        diffs, preview_error = preview(), ""
    except RenderError as e:
        diffs, preview_error = [], str(e)
    context = {
        "state": config_state(),
        "generations": Generation.objects.all()[:20],
        "diffs": diffs,
        "preview_error": preview_error,
    }
    return render(request, "export/config.html", context)


@require_POST
@superadmin_required
def config_apply(request: HtmxHttpRequest) -> HttpResponse:
    # A person is waiting: a helper that hangs is reported after seconds, not minutes.
    generation = apply_pending(force=True, requested_by=actor_for(request).name, helper_timeout=APPLY_NOW_TIMEOUT)
    if generation is None:
        messages.error(request, "Another apply is running; it will include your changes.")
    elif generation.ok:
        messages.success(request, f"Applied generation {generation.pk}.")
    else:
        messages.error(request, f"Generation {generation.pk} failed: {generation.error}")
    return redirect("config_status")
