from copy import copy

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import actions, clientsetup, sessions, throttle, usage
from accounts.access import alias_for, mailbox_for
from accounts.forms import (
    AdminForm,
    AliasForm,
    ForwardingForm,
    MailboxForm,
    PostmasterForm,
    SelfServicePasswordForm,
    VacationForm,
)
from accounts.middleware import MailboxHttpRequest
from accounts.models import Alias, Forwarding, Mailbox, Postmaster, QueuedMail, User, Vacation
from accounts.pages import mailbox_page
from audit.log import actor_for
from core.access import admin_required, mailbox_required, superadmin_required
from core.addresses import normalize_address, normalize_domain
from core.mailhost import host_config
from core.quota import fill_permille
from core.search import prefix_filter
from core.views import paginate, run_action
from domains.access import domain_for
from domains.models import Domain

DOMAIN_PAGE = "accounts/domain_detail.html"


@require_http_methods(["GET", "POST"])
@mailbox_required
def account(request: MailboxHttpRequest) -> HttpResponse:
    mailbox = request.mailbox
    # Guesses of the current password count with sign-in failures, against the same account.
    attempt = throttle.attempt(mailbox.ascii_address, throttle.request_client(request))
    form = SelfServicePasswordForm(request.POST or None, mailbox=mailbox, attempt=attempt)
    if request.method == "POST" and form.is_valid():
        actions.set_mailbox_password(mailbox, form.cleaned_data["password"], actor=actor_for(request))
        sessions.update_session_hash(request, mailbox)
        messages.success(request, "Your password is changed. Use the new one in your mail apps too.")
        return redirect("account")
    imap, imap_starttls, smtp, submission = clientsetup.servers(host_config())
    context = {"mailbox": mailbox, "form": form, "imap": imap, "imap_starttls": imap_starttls}
    context |= {"smtp": smtp, "submission": submission, "usage": _usage_now(mailbox)}
    return render(request, "accounts/account.html", context)


def _usage_now(mailbox: Mailbox) -> dict:
    """The mailbox's usage as Dovecot's own files say now (the database copy may be a minute old)."""
    now = usage.read_usage(mailbox)
    used = now.used_bytes if now.used_bytes is not None else mailbox.used_bytes
    permille = fill_permille(used, mailbox.quota_mb)
    return {
        "used_bytes": used,
        "quota_mb": mailbox.quota_mb,
        "fill_permille": permille,
        "percent": permille // 10,
        "last_login_at": now.last_login_at or mailbox.last_login_at,
    }


def row_urls(domain: Domain) -> dict[str, str]:
    """Where a domain's mailbox and alias URLs begin, from the URL configuration itself: each row
    adds its own part, instead of resolving six URLs per row (a quarter of the page's time)."""
    return {
        "mailbox": reverse("mailbox_edit", args=[domain.name, "x"]).removesuffix("x/"),
        "alias": reverse("alias_edit", args=[domain.name, 0]).removesuffix("0/"),
    }


def _row(domain: Domain, **context) -> dict:
    return {"domain": domain, "row_urls": row_urls(domain), **context}


def domain_page_context(request: MailboxHttpRequest, domain: Domain, **forms) -> dict:
    mailbox_query, alias_query = request.GET.get("mq", ""), request.GET.get("aq", "")
    fullest_first = request.GET.get("msort") == "fullest"
    aliases = Alias.objects.filter(domain=domain).search(alias_query)
    return {
        "domain": domain,
        "row_urls": row_urls(domain),
        "mailboxes": mailbox_page(request, domain, mailbox_query, fullest_first, "mpage"),
        "aliases": paginate(request, aliases, "apage"),
        "fullest_first": fullest_first,
        "queued_mail": QueuedMail.objects.filter(mailbox__domain=domain).select_related("mailbox")[:10],
        "mq": mailbox_query,
        "aq": alias_query,
        "alias_domains": list(domain.alias_domains.all()[:20]),
        "mailbox_form": forms.get("mailbox_form") or MailboxForm(domain=domain),
        "alias_form": forms.get("alias_form") or AliasForm(domain=domain),
    }


@admin_required
def domain_detail(request: MailboxHttpRequest, name: str) -> HttpResponse:
    domain = domain_for(request, name)
    template = "accounts/domain_detail.html"
    if request.htmx and request.htmx.target in ("mailbox-results", "alias-results"):
        template += f"#{request.htmx.target}"
    return render(request, template, domain_page_context(request, domain))


def _refused(request: MailboxHttpRequest, name: str, error: ValidationError) -> HttpResponse:
    """An action said no: the reason shows on the domain page, with or without htmx."""
    messages.error(request, " ".join(error.messages))
    if request.htmx:
        return HttpResponseClientRedirect(reverse("domain_detail", args=[name]))
    return redirect("domain_detail", name=name)


def _domain_section(request: MailboxHttpRequest, domain, section: str, **forms) -> HttpResponse:
    return render(request, f"{DOMAIN_PAGE}#{section}", domain_page_context(request, domain, **forms))


@require_http_methods(["GET", "POST"])
@admin_required
def mailbox_create(request: MailboxHttpRequest, name: str) -> HttpResponse:
    domain = domain_for(request, name)
    form = MailboxForm(request.POST or None, domain=domain)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        mailbox = run_action(
            form,
            actions.create_mailbox,
            domain,
            data["local_part"],
            data["password"],
            actor=actor_for(request),
            display_name=data["display_name"],
            quota_mb=data["quota_mb"],
            active=data["active"],
        )
        if mailbox:
            messages.success(request, f"Added the mailbox {mailbox}.")
            if request.htmx:
                return _domain_section(request, domain, "mailboxes")
            return redirect("domain_detail", name=domain.name)
    if request.htmx:
        return _domain_section(request, domain, "mailboxes", mailbox_form=form)
    return render(request, "accounts/mailbox_form.html", {"form": form, "domain": domain})


OVER_QUOTA = (
    "{mailbox} is over its quota now: new mail to it bounces as “mailbox full” until mail is deleted "
    "or the quota raised."
)


@require_http_methods(["GET", "POST"])
@admin_required
def mailbox_edit(request: MailboxHttpRequest, name: str, local_part: str) -> HttpResponse:
    mailbox = mailbox_for(request, name, local_part)
    form = MailboxForm(request.POST or None, instance=copy(mailbox), domain=mailbox.domain)
    saved = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        actor = actor_for(request)
        saved = run_action(
            form,
            actions.update_mailbox,
            mailbox,
            actor=actor,
            display_name=data["display_name"],
            quota_mb=data["quota_mb"],
            active=data["active"],
        )
        if saved and data["password"]:
            actions.set_mailbox_password(mailbox, data["password"], actor=actor)
    if saved:
        if request.htmx:
            return render(request, f"{DOMAIN_PAGE}#mailbox-row", _row(mailbox.domain, mailbox=mailbox, saved=True))
        messages.success(request, f"Saved {mailbox}.")
        if mailbox.fill_permille >= 1000:
            messages.warning(request, OVER_QUOTA.format(mailbox=mailbox))
        return redirect("domain_detail", name=name)
    template = "accounts/mailbox_form.html#inline-form" if request.htmx else "accounts/mailbox_form.html"
    return render(request, template, {"form": form, "domain": mailbox.domain, "mailbox": mailbox})


@require_POST
@admin_required
def mailbox_toggle(request: MailboxHttpRequest, name: str, local_part: str) -> HttpResponse:
    mailbox = mailbox_for(request, name, local_part)
    try:
        actions.update_mailbox(mailbox, actor=actor_for(request), active=not mailbox.active)
    except ValidationError as e:
        return _refused(request, name, e)
    if request.htmx:
        return render(request, f"{DOMAIN_PAGE}#mailbox-row", _row(mailbox.domain, mailbox=mailbox))
    messages.success(request, f"{'Enabled' if mailbox.active else 'Disabled'} {mailbox}.")
    return redirect("domain_detail", name=name)


@require_http_methods(["GET", "POST"])
@admin_required
def mailbox_delete(request: MailboxHttpRequest, name: str, local_part: str) -> HttpResponse:
    mailbox = mailbox_for(request, name, local_part)
    if request.method == "POST":
        try:
            actions.delete_mailbox(mailbox, actor=actor_for(request))
        except ValidationError as e:
            return _refused(request, name, e)
        if request.htmx:
            return HttpResponse("")  # the row swaps itself out
        messages.success(request, f"Deleted the mailbox {mailbox}.")
        return redirect("domain_detail", name=name)
    affected = actions.aliases_delivering_to(actions.spellings(mailbox.domain, mailbox.local_part))
    context = {"object": mailbox, "kind": "mailbox", "domain": mailbox.domain, "affected": affected}
    return render(request, "accounts/confirm_delete.html", context)


@require_http_methods(["GET", "POST"])
@admin_required
def alias_create(request: MailboxHttpRequest, name: str) -> HttpResponse:
    domain = domain_for(request, name)
    form = AliasForm(request.POST or None, domain=domain)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        alias = run_action(
            form,
            actions.create_alias,
            domain,
            data["local_part"],
            data["destinations"],
            actor=actor_for(request),
            active=data["active"],
        )
        if alias:
            messages.success(request, f"Added the alias {alias}.")
            if request.htmx:
                return _domain_section(request, domain, "aliases")
            return redirect("domain_detail", name=domain.name)
    if request.htmx:
        return _domain_section(request, domain, "aliases", alias_form=form)
    return render(request, "accounts/alias_form.html", {"form": form, "domain": domain})


@require_http_methods(["GET", "POST"])
@admin_required
def alias_edit(request: MailboxHttpRequest, name: str, alias_id: int) -> HttpResponse:
    alias = alias_for(request, name, alias_id)
    form = AliasForm(request.POST or None, instance=copy(alias), domain=alias.domain)
    saved = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = run_action(
            form,
            actions.update_alias,
            alias,
            actor=actor_for(request),
            destinations=data["destinations"],
            active=data["active"],
        )
    if saved:
        if request.htmx:
            return render(request, f"{DOMAIN_PAGE}#alias-row", _row(alias.domain, alias=alias, saved=True))
        messages.success(request, f"Saved the alias {alias}.")
        return redirect("domain_detail", name=name)
    template = "accounts/alias_form.html#inline-form" if request.htmx else "accounts/alias_form.html"
    return render(request, template, {"form": form, "domain": alias.domain, "alias": alias})


@require_http_methods(["GET", "POST"])
@admin_required
def alias_delete(request: MailboxHttpRequest, name: str, alias_id: int) -> HttpResponse:
    alias = alias_for(request, name, alias_id)
    if request.method == "POST":
        try:
            actions.delete_alias(alias, actor=actor_for(request))
        except ValidationError as e:
            return _refused(request, name, e)
        if request.htmx:
            return HttpResponse("")
        messages.success(request, f"Deleted the alias {alias}.")
        return redirect("domain_detail", name=name)
    affected = (
        actions.aliases_delivering_to(actions.spellings(alias.domain, alias.local_part)) if alias.local_part else []
    )
    context = {"object": alias, "kind": "alias", "domain": alias.domain, "affected": affected}
    return render(request, "accounts/confirm_delete.html", context)


@superadmin_required
def admin_list(request: MailboxHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    admins = prefix_filter(User.objects.order_by("username"), "username", query).prefetch_related("domains")
    return render(request, "accounts/admin_list.html", {"page": paginate(request, admins), "q": query})


def _save_admin(request: MailboxHttpRequest, form: AdminForm, admin: User | None) -> User | None:
    data, actor = form.cleaned_data, actor_for(request)
    domains = list(data["domains"])
    if admin is None:
        return run_action(
            form,
            actions.create_admin,
            data["username"],
            data["password"],
            actor=actor,
            superadmin=data["superadmin"],
            domains=domains,
        )
    updated = run_action(
        form,
        actions.update_admin,
        admin,
        actor=actor,
        superadmin=data["superadmin"],
        domains=domains,
        active=data["active"],
    )
    if not updated:
        return None
    if data["password"]:
        actions.set_admin_password(admin, data["password"], actor=actor)
    return admin


@require_http_methods(["GET", "POST"])
@superadmin_required
def admin_form(request: MailboxHttpRequest, admin_id: int | None = None) -> HttpResponse:
    admin = get_object_or_404(User, pk=admin_id) if admin_id else None
    form = AdminForm(request.POST or None, admin=admin)
    if request.method == "POST" and form.is_valid() and (saved := _save_admin(request, form, admin)):
        messages.success(request, f"Saved the admin {saved.username}.")
        return redirect("admin_list")
    return render(request, "accounts/admin_form.html", {"form": form, "admin": admin})


@require_http_methods(["GET", "POST"])
@superadmin_required
def postmaster(request: MailboxHttpRequest) -> HttpResponse:
    form = PostmasterForm(request.POST or None, initial={"address": Postmaster.current()})
    if request.method == "POST" and form.is_valid():
        if run_action(form, actions.set_postmaster, form.cleaned_data["address"], actor=actor_for(request)):
            messages.success(
                request, "Saved. Every domain's postmaster@ and abuse@ deliver there from the next apply on."
            )
            return redirect("postmaster")
    return render(request, "accounts/postmaster.html", {"form": form, "current": Postmaster.current()})


def _receiving_domain(name: str) -> Domain:
    """A domain this host receives mail for (an alias domain too), or 404."""
    try:
        name = normalize_domain(name)
    except ValidationError:
        raise Http404("not a domain name") from None
    domain = Domain.objects.receiving().filter(name=name).first()
    if domain is None:
        raise Http404("not a domain of this host")
    return domain


@require_GET
def autoconfig(request: MailboxHttpRequest) -> HttpResponse:
    """Thunderbird asks autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=… (or the domain's
    own /.well-known/autoconfig/…); the answer depends only on the domain."""
    address = request.GET.get("emailaddress", "")
    host = request.get_host().split(":")[0].lower()
    name = address.rpartition("@")[2] if "@" in address else host.removeprefix("autoconfig.")
    domain = _receiving_domain(name)
    return HttpResponse(clientsetup.autoconfig_xml(domain.name, host_config()), content_type="application/xml")


@csrf_exempt  # mail clients post XML, with no session and no CSRF token; nothing changes here
@require_POST
def autodiscover(request: MailboxHttpRequest) -> HttpResponse:
    """Outlook posts its POX request to autodiscover.<domain>/autodiscover/autodiscover.xml."""
    address = clientsetup.autodiscover_address(request.body[:65536])
    try:
        address = normalize_address(address)
    except ValidationError:
        raise Http404("no e-mail address in the request") from None
    _receiving_domain(address.rpartition("@")[2])
    return HttpResponse(clientsetup.autodiscover_xml(address, host_config()), content_type="application/xml")


@mailbox_required
def mobileconfig(request: MailboxHttpRequest) -> HttpResponse:
    """The signed-in user's Apple profile (iPhone, iPad, Mac): servers and user name, no password."""
    mailbox = request.mailbox
    profile = clientsetup.mobileconfig(mailbox.ascii_address, mailbox.display_name, host_config())
    response = HttpResponse(profile, content_type="application/x-apple-aspen-config")
    response["Content-Disposition"] = f'attachment; filename="{mailbox.ascii_address}.mobileconfig"'
    return response


@require_http_methods(["GET", "POST"])
@mailbox_required
def vacation_and_forwarding(request: MailboxHttpRequest) -> HttpResponse:
    """The mailbox user's automatic reply and forwarding, one form each on one page."""
    mailbox = request.mailbox
    vacation = Vacation.objects.filter(mailbox=mailbox).first() or Vacation(mailbox=mailbox)
    forwarding = Forwarding.objects.filter(mailbox=mailbox).first() or Forwarding(mailbox=mailbox)
    which = request.POST.get("form")
    vacation_form = VacationForm(
        request.POST if which == "vacation" else None,
        initial={f: getattr(vacation, f) for f in ("enabled", "subject", "body", "start", "end", "days")},
        prefix="vacation",
    )
    forwarding_form = ForwardingForm(
        request.POST if which == "forwarding" else None,
        initial={"destinations": "\n".join(forwarding.destinations), "keep_copy": forwarding.keep_copy},
        prefix="forwarding",
    )
    actor = actor_for(request)
    if which == "vacation" and vacation_form.is_valid():
        if run_action(vacation_form, actions.set_vacation, mailbox, actor=actor, **vacation_form.cleaned_data):
            messages.success(request, "Saved your automatic reply.")
            return redirect("vacation")
    if which == "forwarding" and forwarding_form.is_valid():
        if run_action(forwarding_form, actions.set_forwarding, mailbox, actor=actor, **forwarding_form.cleaned_data):
            messages.success(request, "Saved your forwarding.")
            return redirect("vacation")
    context = {"mailbox": mailbox, "vacation_form": vacation_form, "forwarding_form": forwarding_form}
    return render(request, "accounts/vacation.html", context)
