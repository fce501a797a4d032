from copy import copy

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.audit import actor_for
from accounts.forms import AliasForm, MailboxForm
from accounts.models import Alias, Mailbox
from domains import actions
from domains.forms import DomainForm
from domains.models import Domain
from mailadmin.access import admin_required, domain_for, superadmin_required
from mailadmin.views_util import paginate, run_action


def _count(model, **filters) -> Subquery:
    rows = model.objects.filter(domain=OuterRef("pk"), **filters).order_by().values("domain")
    return Subquery(rows.annotate(n=Count("pk")).values("n"), output_field=IntegerField())


def dashboard_context(request: HttpRequest, form: DomainForm | None = None) -> dict:
    query = request.GET.get("q", "")
    domains = (
        Domain.objects.managed_by(request.user)
        .search(query)
        .select_related("alias_of")
        .annotate(mailbox_count=_count(Mailbox), alias_count=_count(Alias))
    )
    return {"page": paginate(request, domains), "q": query, "form": form or DomainForm()}


@admin_required
def dashboard(request: HttpRequest) -> HttpResponse:
    template = "domains/dashboard.html"
    if request.htmx and request.htmx.target == "domain-results":
        template += "#domain-results"
    return render(request, template, dashboard_context(request))


@require_http_methods(["GET", "POST"])
@superadmin_required
def domain_create(request: HttpRequest) -> HttpResponse:
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


def domain_page_context(request: HttpRequest, domain: Domain, **forms) -> dict:
    mailbox_query, alias_query = request.GET.get("mq", ""), request.GET.get("aq", "")
    mailboxes = Mailbox.objects.filter(domain=domain).search(mailbox_query)
    aliases = Alias.objects.filter(domain=domain).search(alias_query)
    return {
        "domain": domain,
        "mailboxes": paginate(request, mailboxes, "mpage"),
        "aliases": paginate(request, aliases, "apage"),
        "mq": mailbox_query,
        "aq": alias_query,
        "alias_domains": list(domain.alias_domains.all()[:20]),
        "mailbox_form": forms.get("mailbox_form") or MailboxForm(domain=domain),
        "alias_form": forms.get("alias_form") or AliasForm(domain=domain),
    }


@admin_required
def domain_detail(request: HttpRequest, name: str) -> HttpResponse:
    domain = domain_for(request, name)
    template = "domains/domain_detail.html"
    if request.htmx and request.htmx.target in ("mailbox-results", "alias-results"):
        template += f"#{request.htmx.target}"
    return render(request, template, domain_page_context(request, domain))


@require_http_methods(["GET", "POST"])
@superadmin_required
def domain_edit(request: HttpRequest, name: str) -> HttpResponse:
    domain = domain_for(request, name)
    # The form gets a copy: a ModelForm writes into its instance while validating, and the
    # action must see the values from before the edit to record what changed.
    form = DomainForm(request.POST or None, instance=copy(domain))
    if request.method == "POST" and form.is_valid():
        if run_action(form, actions.update_domain, domain, actor=actor_for(request), **form.cleaned_data):
            messages.success(request, f"Saved {domain}.")
            return redirect("domain_detail", name=domain.name)
    return render(request, "domains/domain_form.html", {"form": form, "domain": domain})


@require_http_methods(["GET", "POST"])
@superadmin_required
def domain_delete(request: HttpRequest, name: str) -> HttpResponse:
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
