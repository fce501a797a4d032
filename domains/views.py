from copy import copy

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from audit.log import actor_for
from core.access import admin_required, superadmin_required
from core.http import HtmxHttpRequest
from core.views import paginate, run_action
from domains import actions
from domains.access import domain_for
from domains.forms import DomainForm
from domains.models import Domain


def dashboard_context(request: HtmxHttpRequest, form: DomainForm | None = None) -> dict:
    query = request.GET.get("q", "")
    domains = Domain.objects.managed_by(request.user).search(query).select_related("alias_of").with_address_counts()
    return {"page": paginate(request, domains), "q": query, "form": form or DomainForm()}


@admin_required
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    template = "domains/dashboard.html"
    if request.htmx and request.htmx.target == "domain-results":
        template += "#domain-results"
    return render(request, template, dashboard_context(request))


@require_http_methods(["GET", "POST"])
@superadmin_required
def domain_create(request: HtmxHttpRequest) -> HttpResponse:
    form = DomainForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        domain = run_action(form, actions.create_domain, actor=actor_for(request), **form.cleaned_data)
        if domain:
            messages.success(request, f"Added {domain}. Next: add its mailboxes.")
            if request.htmx:
                return render(request, "domains/dashboard.html#domains", dashboard_context(request))
            return redirect("domain_detail", name=domain.name)
    if request.htmx:
        return render(request, "domains/dashboard.html#domains", dashboard_context(request, form))
    return render(request, "domains/domain_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@superadmin_required
def domain_edit(request: HtmxHttpRequest, name: str) -> HttpResponse:
    domain = domain_for(request, name)
    # The form gets a copy: a ModelForm writes into its instance while validating, and the
    # action must see the values from before the edit to record what changed.
    form = DomainForm(request.POST or None, instance=copy(domain))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = run_action(
            form,
            actions.update_domain,
            domain,
            actor=actor_for(request),
            active=data["active"],
            default_quota_mb=data["default_quota_mb"],
            alias_of=data["alias_of"],
        )
        if saved:
            messages.success(request, f"Saved {domain}.")
            return redirect("domain_detail", name=domain.name)
    return render(request, "domains/domain_form.html", {"form": form, "domain": domain})


@require_http_methods(["GET", "POST"])
@superadmin_required
def domain_delete(request: HtmxHttpRequest, name: str) -> HttpResponse:
    domain = domain_for(request, name)
    error = None
    if request.method == "POST":
        try:
            actions.delete_domain(domain, actor=actor_for(request))
        except ValidationError as e:
            error = e.messages[0]
        else:
            messages.success(request, f"Deleted {domain} with its mailboxes and aliases.")
            return redirect("dashboard")
    counts = {"mailboxes": domain.mailboxes.count(), "aliases": domain.aliases.count()}
    return render(request, "domains/domain_confirm_delete.html", {"domain": domain, "counts": counts, "error": error})
