"""The host as a whole: the apply status and "Apply now", the audit log, and the token itself."""

from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import holder, require_superadmin
from api.bridge import page, search
from api.docs import PAGE, SEARCH, operation
from api.problems import problem
from api.schemas import AuditEntryOut, ConfigOut, GenerationOut, TokenOut, page_of
from audit.models import AuditEntry
from domains.models import Domain
from export.apply import apply_pending
from export.dirty import config_state
from export.models import Generation
from export.views import APPLY_NOW_TIMEOUT


@operation("get_config_status", ok={200: ConfigOut})
@api_view(["GET"])
def config(request: Request) -> Response:
    """The status line of every page; a superadmin's token also gets the last applies."""
    state = config_state()
    problems = state.last_problems
    if not holder(request).is_superuser:
        names = set(Domain.objects.managed_by(holder(request)).values_list("name", flat=True))
        problems = [p for p in problems if p["domain"] in names]
    answer = ConfigOut(state).data | {"last_problems": problems}
    if holder(request).is_superuser:
        answer["generations"] = GenerationOut(Generation.objects.all()[:20], many=True).data
    return Response(answer)


@operation("apply_now", ok={200: GenerationOut}, errors=(403, 409), request=None)
@api_view(["POST"])
def apply_now(request: Request) -> Response:
    """Apply now, as the configuration page's button: waits at most 20 s for the helper. A failed
    apply is an answer too (ok false, with the error); the live generation stays."""
    require_superadmin(request)
    generation = apply_pending(force=True, requested_by=holder(request).actor.name, helper_timeout=APPLY_NOW_TIMEOUT)
    if generation is None:
        return problem(409, "Another apply is running; it will include your changes.")
    return Response(GenerationOut(generation).data)


@operation("list_audit_entries", ok={200: page_of(AuditEntryOut)}, parameters=[SEARCH, PAGE])
@api_view(["GET"])
def audit(request: Request) -> Response:
    """Newest first; a domain admin's token sees its domains' entries, as the audit page."""
    entries = AuditEntry.objects.visible_to(holder(request)).search(search(request).strip().lower())
    return page(request, entries, AuditEntryOut)


@operation("get_token", ok={200: TokenOut})
@api_view(["GET"])
def token(request: Request) -> Response:
    """The token this request was sent with: whose it is and what it may do."""
    return Response(TokenOut(request.auth).data)
