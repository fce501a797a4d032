from copy import copy

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from audit.log import actor_for
from core.access import admin_required
from core.http import HtmxHttpRequest
from core.views import run_action
from dnsrecords.data import domain_dns, mail_host_dns, policy_for, records_for, unsigned_reason
from dnsrecords.expected import Record, mta_sts_policy
from dnsrecords.forms import DkimKeyForm, PolicyForm
from dnsrecords.models import RecordCheck
from dnsrecords.store import check_and_save, check_and_save_one
from dnsrecords.zonefile import zone_text, zone_value
from domains import actions
from domains.access import domain_for
from domains.models import DkimKey, Domain

PAGE = "dnsrecords/dns.html"


def _row(domain: Domain, index: int, record: Record, check: RecordCheck | None) -> dict:
    return {
        "index": index,
        "record": record,
        "relative": record.relative_to(domain.name),
        "zone_value": zone_value(record),
        "check": check,
    }


def _rows(domain: Domain) -> list[dict]:
    checks = {c.key: c for c in RecordCheck.objects.filter(domain=domain)}
    return [_row(domain, index, record, checks.get(record.key)) for index, record in enumerate(records_for(domain))]


def _context(domain: Domain, **extra) -> dict:
    keys = list(domain.dkim_keys.all())
    return {
        "domain": domain,
        "rows": _rows(domain),
        "keys": keys,
        "old_keys": [k for k in keys if k.due_for_rotation],
        "expired_keys": [k for k in keys if k.past_grace_period],
        "key_form": extra.pop("key_form", None) or DkimKeyForm(),
        "unsigned": unsigned_reason(domain),
        "policy": policy_for(domain),
        **extra,
    }


@admin_required
def dns_page(request: HtmxHttpRequest, name: str) -> HttpResponse:
    domain = domain_for(request, name)
    return render(request, PAGE, _context(domain))


@require_POST
@admin_required
def dns_check(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """With htmx, each row then asks for its own check and fills in as its answer arrives."""
    domain = domain_for(request, name)
    if request.htmx:
        return render(request, f"{PAGE}#records", _context(domain, checking=True))
    check_and_save(domain, records_for(domain))
    messages.success(request, "Checked every record.")
    return redirect("dns_page", name=domain.name)


@admin_required
def dns_check_one(request: HtmxHttpRequest, name: str, index: int) -> HttpResponse:
    domain = domain_for(request, name)
    records = records_for(domain)
    if not 0 <= index < len(records):
        raise Http404("no such record")
    check = check_and_save_one(domain, records[index])
    row = _row(domain, index, records[index], check)
    return render(request, f"{PAGE}#record-row", {"row": row, "domain": domain})


def _zone_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin_required
def dns_zone(request: HtmxHttpRequest, name: str) -> HttpResponse:
    domain = domain_for(request, name)
    return _zone_response(zone_text(domain.name, records_for(domain)), f"{domain.name}.zone")


@admin_required
def dns_zone_all(request: HtmxHttpRequest) -> HttpResponse:
    domains = Domain.objects.managed_by(request.user).filter(active=True)
    return _zone_response("\n".join(zone_text(d.name, records_for(d)) for d in domains), "mailadmin-domains.zone")


@require_http_methods(["GET", "POST"])
@admin_required
def policy_edit(request: HtmxHttpRequest, name: str) -> HttpResponse:
    domain = domain_for(request, name)
    policy = policy_for(domain)
    form = PolicyForm(request.POST or None, instance=copy(policy))
    if request.method == "POST" and form.is_valid():
        actions.update_policy(policy, actor=actor_for(request), **form.cleaned_data)
        messages.success(request, "Saved. Publish the records that changed, then check them.")
        return redirect("dns_page", name=domain.name)
    return render(request, "dnsrecords/policy_form.html", {"domain": domain, "form": form})


@require_POST
@admin_required
def dkim_create(request: HtmxHttpRequest, name: str) -> HttpResponse:
    domain = domain_for(request, name)
    form = DkimKeyForm(request.POST)
    if form.is_valid() and (
        key := run_action(
            form,
            actions.create_dkim_key,
            domain,
            actor=actor_for(request),
            algorithm=form.cleaned_data["algorithm"],
            bits=form.cleaned_data["bits"],
            selector=form.cleaned_data["selector"],
        )
    ):
        messages.success(
            request, f"Created the key {key.selector}. Publish its record below, check it, then switch signing to it."
        )
        return redirect("dns_page", name=domain.name)
    return render(request, PAGE, _context(domain, key_form=form), status=200)


def _key(request: HtmxHttpRequest, name: str, key_id: int) -> DkimKey:
    domain = domain_for(request, name)
    key = get_object_or_404(DkimKey, domain=domain, pk=key_id)
    key.domain = domain
    return key


@require_POST
@admin_required
def dkim_activate(request: HtmxHttpRequest, name: str, key_id: int) -> HttpResponse:
    key = _key(request, name, key_id)
    try:
        actions.activate_dkim_key(
            key, actor=actor_for(request), unpublished_ok=request.POST.get("unpublished_ok") == "yes"
        )
    except ValidationError as e:
        messages.error(request, e.messages[0])
    else:
        messages.success(
            request,
            f"Mail is signed with {key.selector} from the next apply on. Keep the old selector published for a few days.",
        )
    return redirect("dns_page", name=name)


@require_http_methods(["GET", "POST"])
@admin_required
def dkim_remove(request: HtmxHttpRequest, name: str, key_id: int) -> HttpResponse:
    key = _key(request, name, key_id)
    if request.method == "GET":
        return render(request, "dnsrecords/dkim_confirm_remove.html", {"key": key, "domain": key.domain})
    try:
        kept = actions.remove_dkim_key(key, actor=actor_for(request))
    except ValidationError as e:
        messages.error(request, e.messages[0])
    else:
        if kept:
            messages.success(
                request,
                f"Removed {key.selector}. Delete its record at your DNS host; “Check now” shows when it is gone.",
            )
        else:
            messages.success(request, f"Forgot the key {key.selector}.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("dns_page", args=[name]))
    return redirect("dns_page", name=name)


def mta_sts_txt(request: HtmxHttpRequest) -> HttpResponse:
    """The MTA-STS policy, for https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461)."""
    host = request.get_host().split(":")[0].lower()
    if not host.startswith("mta-sts."):
        raise Http404("not an mta-sts host")
    domain = Domain.objects.receiving().filter(name=host.removeprefix("mta-sts.")).first()
    if domain is None:
        raise Http404("unknown domain")
    dns = domain_dns(domain)
    if dns.parked:  # mode none is served: that is how a domain opts out (RFC 8461 §8.3)
        raise Http404("no policy")
    return HttpResponse(mta_sts_policy(dns, mail_host_dns()), content_type="text/plain; charset=utf-8")
