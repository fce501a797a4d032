"""Mailboxes, aliases and catch-alls (an alias with an empty local part), as the domain page."""

from copy import copy

from drf_spectacular.utils import OpenApiParameter
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import actions
from accounts.access import alias_for, mailbox_for
from accounts.forms import AliasForm, MailboxForm
from accounts.models import Alias
from accounts.pages import mailbox_page
from api.auth import holder
from api.bridge import act, body, form_data, page, search, valid
from api.docs import PAGE, SEARCH, operation
from api.schemas import AliasCreate, AliasOut, AliasUpdate, MailboxCreate, MailboxOut, MailboxUpdate, page_of
from domains.access import domain_for

# API field → form field (the form asks for the password twice: api sends it as both).
MAILBOX_NAMES = {"quota": "quota_mb", "password": "password1"}
SORT = OpenApiParameter("sort", str, enum=["fullest"], description="fullest: fullest first, as the domain page.")


def _passwords(given: dict) -> dict:
    """The form asks for a new password twice; the API takes it once."""
    if "password" in given:
        password = given.pop("password")
        given |= {"password1": password, "password2": password}
    return given


@operation(
    "list_mailboxes", ok={200: page_of(MailboxOut)}, errors=(404,), methods=["GET"], parameters=[SEARCH, PAGE, SORT]
)
@operation("create_mailbox", ok={201: MailboxOut}, errors=(400, 403, 404), methods=["POST"], request=MailboxCreate)
@api_view(["GET", "POST"])
def mailboxes(request: Request, name: str) -> Response:
    domain = domain_for(request, name)
    if request.method == "POST":
        given = _passwords(body(request, MailboxCreate))
        form = MailboxForm(form_data({"quota_mb": domain.default_quota_mb}, given, MAILBOX_NAMES), domain=domain)
        data = valid(form, MAILBOX_NAMES)
        mailbox = act(
            form,
            MAILBOX_NAMES,
            actions.create_mailbox,
            domain,
            data["local_part"],
            data["password"],
            actor=holder(request).actor,
            display_name=data["display_name"],
            quota_mb=data["quota_mb"],
            active=data["active"],
        )
        return Response(MailboxOut(mailbox).data, status=201)
    cut = mailbox_page(request, domain, search(request), request.query_params.get("sort") == "fullest")
    return page(request, cut, MailboxOut, prepare=lambda mailbox: setattr(mailbox, "domain", domain))


@operation("get_mailbox", ok={200: MailboxOut}, errors=(404,), methods=["GET"])
@operation("update_mailbox", ok={200: MailboxOut}, errors=(400, 403, 404), methods=["PATCH"], request=MailboxUpdate)
@operation("delete_mailbox", ok={204: None}, errors=(400, 403, 404), methods=["DELETE"])
@api_view(["GET", "PATCH", "DELETE"])
def mailbox(request: Request, name: str, local_part: str) -> Response:
    mailbox = mailbox_for(request, name, local_part)
    actor = holder(request).actor
    if request.method == "DELETE":
        actions.delete_mailbox(mailbox, actor=actor)
        return Response(status=204)
    if request.method == "PATCH":
        current = {"display_name": mailbox.display_name, "quota_mb": mailbox.quota_mb, "active": mailbox.active}
        given = _passwords(body(request, MailboxUpdate))
        form = MailboxForm(form_data(current, given, MAILBOX_NAMES), instance=copy(mailbox), domain=mailbox.domain)
        data = valid(form, MAILBOX_NAMES)
        fields = {field: data[field] for field in ("display_name", "quota_mb", "active")}
        act(form, MAILBOX_NAMES, actions.update_mailbox, mailbox, actor=actor, **fields)
        if data["password"]:
            actions.set_mailbox_password(mailbox, data["password"], actor=actor)
    return Response(MailboxOut(mailbox).data)


def _destinations(given: dict) -> dict:
    """The form reads addresses one per line; the API takes a list."""
    if "destinations" in given:
        given["destinations"] = "\n".join(given["destinations"])
    return given


@operation("list_aliases", ok={200: page_of(AliasOut)}, errors=(404,), methods=["GET"], parameters=[SEARCH, PAGE])
@operation("create_alias", ok={201: AliasOut}, errors=(400, 403, 404), methods=["POST"], request=AliasCreate)
@api_view(["GET", "POST"])
def aliases(request: Request, name: str) -> Response:
    domain = domain_for(request, name)
    if request.method == "POST":
        form = AliasForm(_destinations(body(request, AliasCreate)), domain=domain)
        data = valid(form)
        alias = act(
            form,
            None,
            actions.create_alias,
            domain,
            data["local_part"],
            data["destinations"],
            actor=holder(request).actor,
            active=data["active"],
        )
        return Response(AliasOut(alias).data, status=201)
    rows = Alias.objects.filter(domain=domain).search(search(request))
    return page(request, rows, AliasOut, prepare=lambda alias: setattr(alias, "domain", domain))


@operation("get_alias", ok={200: AliasOut}, errors=(404,), methods=["GET"])
@operation("update_alias", ok={200: AliasOut}, errors=(400, 403, 404), methods=["PATCH"], request=AliasUpdate)
@operation("delete_alias", ok={204: None}, errors=(400, 403, 404), methods=["DELETE"])
@api_view(["GET", "PATCH", "DELETE"])
def alias(request: Request, name: str, alias_id: int) -> Response:
    alias = alias_for(request, name, alias_id)
    if request.method == "DELETE":
        actions.delete_alias(alias, actor=holder(request).actor)
        return Response(status=204)
    if request.method == "PATCH":
        current = {"destinations": "\n".join(alias.destinations), "active": alias.active}
        form = AliasForm(
            form_data(current, _destinations(body(request, AliasUpdate))), instance=copy(alias), domain=alias.domain
        )
        data = valid(form)
        act(form, None, actions.update_alias, alias, actor=holder(request).actor, **data)
    return Response(AliasOut(alias).data)
