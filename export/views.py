from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from audit.log import actor_for, record
from core.access import superadmin_required
from core.http import HtmxHttpRequest
from export.apply import apply_pending, preview
from export.dirty import config_state, mark_dirty
from export.models import ConfigState, Generation
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


@require_POST
@superadmin_required
def config_replace_hand_built(request: HtmxHttpRequest) -> HttpResponse:
    """A superadmin says the panel may put its own files in place of a host built by hand that
    was not adopted (the helper keeps the old ones beside them as *.mailadmin-orig)."""
    with transaction.atomic():
        found = config_state().hand_built
        ConfigState.objects.filter(pk=1).update(replace_hand_built=True)
        record(
            actor_for(request),
            "confirmed",
            "configuration",
            "replace the host's hand-built mail tables",
            domain=None,
            changes={"replaced": [", ".join(found) or None, "the panel's"]},
        )
        mark_dirty()
    messages.success(request, "The next apply puts the panel's configuration in place of the host's own files.")
    return redirect("config_status")
