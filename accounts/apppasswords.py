"""The mailbox user's app passwords: one per device, shown once, revocable, and the switch that
makes IMAP and SMTP take only them (accounts.actions holds the rules; export renders the files)."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import actions, clientsetup
from accounts.middleware import MailboxHttpRequest
from accounts.models import AppPassword
from accounts.recent import recent_sign_in_required
from audit.log import actor_for
from core.access import mailbox_required
from core.forms import PlainLabels
from core.mailhost import host_config
from core.views import run_action


class AppPasswordForm(PlainLabels, forms.Form):
    name = forms.CharField(
        max_length=40,
        help_text="Which device or app it is for, such as “phone” or “laptop”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


def _page(request: MailboxHttpRequest, form: AppPasswordForm, created: tuple[AppPassword, str] | None = None):
    mailbox = request.mailbox
    imap, _, smtp, _ = clientsetup.servers(host_config())
    context = {
        "mailbox": mailbox,
        "form": form,
        "app_passwords": mailbox.app_passwords.all(),
        "slots": AppPassword.SLOTS,
        "created": created,
        "imap": imap,
        "smtp": smtp,
    }
    return render(request, "accounts/app_passwords.html", context)


@never_cache  # the page that shows a new password once must not be kept by any cache
@require_http_methods(["GET", "POST"])
@mailbox_required
@recent_sign_in_required
def app_passwords(request: MailboxHttpRequest) -> HttpResponse:
    form = AppPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        made = run_action(
            form, actions.create_app_password, request.mailbox, form.cleaned_data["name"], actor=actor_for(request)
        )
        if made:
            # Shown in this answer only (not kept in the session, not redirected to): it exists nowhere else.
            return _page(request, AppPasswordForm(), created=made)
    return _page(request, form)


@never_cache
@require_POST
@mailbox_required
@recent_sign_in_required
def profile(request: MailboxHttpRequest) -> HttpResponse:
    """An Apple profile with a new app password in it, so the device asks for nothing: the
    password is made for this download and exists nowhere else (revoke it like any other)."""
    mailbox = request.mailbox
    name = f"Apple profile {timezone.localtime():%Y-%m-%d %H:%M}"
    try:
        _, text = actions.create_app_password(mailbox, name, actor=actor_for(request))
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
        return redirect("app_passwords")
    data = clientsetup.mobileconfig(mailbox.ascii_address, mailbox.display_name, host_config(), password=text)
    response = HttpResponse(data, content_type="application/x-apple-aspen-config")
    response["Content-Disposition"] = f'attachment; filename="{mailbox.ascii_address}.mobileconfig"'
    return response


@require_POST
@mailbox_required
@recent_sign_in_required
def revoke(request: MailboxHttpRequest, app_password_id: int) -> HttpResponse:
    app_password = get_object_or_404(AppPassword, pk=app_password_id, mailbox=request.mailbox)
    try:
        actions.revoke_app_password(app_password, actor=actor_for(request))
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    else:
        messages.success(request, f"Revoked “{app_password.name}”: mail apps using it are refused from the next apply.")
    return redirect("app_passwords")


@require_POST
@mailbox_required
@recent_sign_in_required
def only_app_passwords(request: MailboxHttpRequest) -> HttpResponse:
    only = request.POST.get("only") == "on"
    try:
        actions.set_app_passwords_only(request.mailbox, only, actor=actor_for(request))
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    else:
        messages.success(
            request,
            "Mail apps may now use only app passwords; this panel still takes your password."
            if only
            else "Mail apps may use your password again, as well as your app passwords.",
        )
    return redirect("app_passwords")
