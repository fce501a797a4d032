"""Domains and alias domains (a domain with `alias_of`), as the dashboard and the domain forms."""

from copy import copy

from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import holder, require_superadmin
from api.bridge import act, body, form_data, page, search, valid
from api.docs import PAGE, SEARCH, operation
from api.schemas import DomainCreate, DomainOut, DomainUpdate, page_of
from domains import actions
from domains.access import domain_for
from domains.forms import DomainForm
from domains.models import Domain

NAMES = {"default_quota": "default_quota_mb"}


def _given(data: dict) -> dict:
    if "alias_of" in data:  # the form takes the target by name; null is an ordinary domain
        data["alias_of"] = data["alias_of"] or ""
    return data


def _out(domain: Domain) -> dict:
    domain.mailbox_count, domain.alias_count = domain.mailboxes.count(), domain.aliases.count()
    return DomainOut(domain).data


@operation("list_domains", ok={200: page_of(DomainOut)}, methods=["GET"], parameters=[SEARCH, PAGE])
@operation("create_domain", ok={201: DomainOut}, errors=(400, 403), methods=["POST"], request=DomainCreate)
@api_view(["GET", "POST"])
def domains(request: Request) -> Response:
    if request.method == "POST":
        return _create(request)
    rows = Domain.objects.managed_by(holder(request)).search(search(request))
    return page(request, rows.select_related("alias_of").with_address_counts(), DomainOut, prepare=_counted)


def _counted(domain: Domain) -> None:
    # A count subquery with no rows to count is NULL.
    domain.mailbox_count, domain.alias_count = domain.mailbox_count or 0, domain.alias_count or 0


def _create(request: Request) -> Response:
    require_superadmin(request)
    given = _given(body(request, DomainCreate))
    form = DomainForm(form_data({"default_quota_mb": "0", "alias_of": ""}, given, NAMES))
    data = valid(form, NAMES)
    domain = act(form, NAMES, actions.create_domain, actor=holder(request).actor, **data)
    return Response(_out(domain), status=201)


@operation("get_domain", ok={200: DomainOut}, errors=(404,), methods=["GET"])
@operation("update_domain", ok={200: DomainOut}, errors=(400, 403, 404), methods=["PATCH"], request=DomainUpdate)
@operation("delete_domain", ok={204: None}, errors=(400, 403, 404), methods=["DELETE"])
@api_view(["GET", "PATCH", "DELETE"])
def domain(request: Request, name: str) -> Response:
    if request.method != "GET":
        require_superadmin(request)  # as the pages: 403 before the domain is looked up
    domain = domain_for(request, name)
    if request.method == "DELETE":
        actions.delete_domain(domain, actor=holder(request).actor)
        return Response(status=204)
    if request.method == "PATCH":
        current = {
            "active": domain.active,
            "default_quota_mb": domain.default_quota_mb,
            "alias_of": domain.alias_of.name if domain.alias_of else "",
        }
        form = DomainForm(form_data(current, _given(body(request, DomainUpdate)), NAMES), instance=copy(domain))
        data = valid(form, NAMES)
        act(form, NAMES, actions.update_domain, domain, actor=holder(request).actor, **data)
    return Response(_out(domain))
