"""A domain's DNS page: its records with their last live check, checking them, its policy, and
its DKIM keys through their rotation (create, activate once seen in DNS, remove)."""

from copy import copy

from django.http import Http404
from django.shortcuts import get_object_or_404
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import holder
from api.bridge import act, body, form_data, valid
from api.docs import operation
from api.schemas import DkimKeyActivate, DkimKeyCreate, DkimKeyOut, DnsOut, PolicyOut, PolicyUpdate, RecordOut
from dnsrecords.data import policy_for, records_for, unsigned_reason
from dnsrecords.expected import Record
from dnsrecords.forms import DkimKeyForm, PolicyForm
from dnsrecords.models import RecordCheck
from dnsrecords.store import check_and_save, check_and_save_one
from dnsrecords.zonefile import zone_text, zone_value
from domains import actions
from domains.access import domain_for
from domains.actions import POLICY_FIELDS
from domains.models import DkimKey, Domain


def _row(index: int, record: Record, check: RecordCheck | None) -> dict:
    return {
        "index": index,
        "name": record.name,
        "type": record.type,
        "value": record.value,
        "zone_value": zone_value(record),
        "level": record.level,
        "reason": record.reason,
        "ttl": record.ttl,
        "zone": record.zone,
        "check": check,
    }


def _dns(domain: Domain, records: list[Record]) -> dict:
    checks = {c.key: c for c in RecordCheck.objects.filter(domain=domain)}
    rows = [_row(i, record, checks.get(record.key)) for i, record in enumerate(records)]
    return {
        "domain": domain.name,
        "unsigned": unsigned_reason(domain),
        "records": rows,
        "zone_file": zone_text(domain.name, records),
    }


@operation("get_dns", ok={200: DnsOut}, errors=(404,))
@api_view(["GET"])
def dns(request: Request, name: str) -> Response:
    domain = domain_for(request, name)
    return Response(DnsOut(_dns(domain, records_for(domain))).data)


@operation("check_dns", ok={200: DnsOut}, errors=(403, 404), request=None)
@api_view(["POST"])
def dns_check(request: Request, name: str) -> Response:
    """Check every record live now, as “Check now” does; a DKIM key seen published may start signing."""
    domain = domain_for(request, name)
    records = records_for(domain)
    check_and_save(domain, records)
    return Response(DnsOut(_dns(domain, records)).data)


@operation("check_dns_record", ok={200: RecordOut}, errors=(403, 404), request=None)
@api_view(["POST"])
def dns_check_one(request: Request, name: str, index: int) -> Response:
    domain = domain_for(request, name)
    records = records_for(domain)
    if not 0 <= index < len(records):
        raise Http404("no such record")
    check = check_and_save_one(domain, records[index])
    return Response(RecordOut(_row(index, records[index], check)).data)


@operation("get_policy", ok={200: PolicyOut}, errors=(404,), methods=["GET"])
@operation("update_policy", ok={200: PolicyOut}, errors=(400, 403, 404), methods=["PATCH"], request=PolicyUpdate)
@api_view(["GET", "PATCH"])
def policy(request: Request, name: str) -> Response:
    domain = domain_for(request, name)
    policy = policy_for(domain)
    if request.method == "PATCH":
        current = {field: getattr(policy, field) for field in POLICY_FIELDS}
        form = PolicyForm(form_data(current, body(request, PolicyUpdate)), instance=copy(policy))
        data = valid(form)
        act(form, None, actions.update_policy, policy, actor=holder(request).actor, **data)
    return Response(PolicyOut(policy).data)


def _keys(domain: Domain) -> list[DkimKey]:
    keys = list(domain.dkim_keys.all())
    for key in keys:
        key.domain = domain
    return keys


def _key(request: Request, name: str, key_id: int) -> DkimKey:
    domain = domain_for(request, name)
    key = get_object_or_404(DkimKey, domain=domain, pk=key_id)
    key.domain = domain
    return key


@operation("list_dkim_keys", ok={200: DkimKeyOut(many=True)}, errors=(404,), methods=["GET"])
@operation("create_dkim_key", ok={201: DkimKeyOut}, errors=(400, 403, 404), methods=["POST"], request=DkimKeyCreate)
@api_view(["GET", "POST"])
def dkim_keys(request: Request, name: str) -> Response:
    domain = domain_for(request, name)
    if request.method == "GET":
        return Response(DkimKeyOut(_keys(domain), many=True).data)
    form = DkimKeyForm(body(request, DkimKeyCreate))
    data = valid(form)
    key = act(
        form,
        None,
        actions.create_dkim_key,
        domain,
        actor=holder(request).actor,
        algorithm=data["algorithm"],
        bits=data["bits"],
        selector=data["selector"],
    )
    return Response(DkimKeyOut(key).data, status=201)


@operation("activate_dkim_key", ok={200: DkimKeyOut}, errors=(400, 403, 404), request=DkimKeyActivate)
@api_view(["POST"])
def dkim_activate(request: Request, name: str, key_id: int) -> Response:
    """Sign with this key from the next apply on; the key it replaces stays published, retired."""
    key = _key(request, name, key_id)
    given = body(request, DkimKeyActivate)
    actions.activate_dkim_key(key, actor=holder(request).actor, unpublished_ok=given["unpublished_ok"])
    return Response(DkimKeyOut(key).data)


@operation("remove_dkim_key", ok={200: DkimKeyOut, 204: None}, errors=(400, 403, 404))
@api_view(["DELETE"])
def dkim_key(request: Request, name: str, key_id: int) -> Response:
    """A pending key is forgotten (204); a retired one is kept as removed, private key wiped, until
    a check shows its record gone (200); the active key is refused."""
    kept = actions.remove_dkim_key(_key(request, name, key_id), actor=holder(request).actor)
    return Response(DkimKeyOut(kept).data) if kept else Response(status=204)
