"""The superadmin's pages: who must have a second factor, and resetting the factors of someone
who lost theirs (an admin or a mailbox user). Both are audited by the actions."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.access import mailbox_for
from accounts.models import User
from audit.log import actor_for
from core.access import superadmin_required
from factors import actions, policy
from factors.forms import PolicyForm
from factors.models import Policy, RequiredDomain
from factors.people import Person


@require_http_methods(["GET", "POST"])
@superadmin_required
def factor_policy(request: HttpRequest) -> HttpResponse:
    initial = {
        "all_admins": Policy.objects.filter(pk=1, all_admins=True).exists(),
        "domains": list(RequiredDomain.objects.values_list("domain", flat=True)),
    }
    # Every box unticked posts nothing but the CSRF token: still a submission.
    form = PolicyForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        actions.set_policy(data["all_admins"], list(data["domains"]), actor=actor_for(request))
        messages.success(
            request, "Saved. Admins who must have a second factor and have none set one up at their next sign-in."
        )
        return redirect("factor_policy")
    return render(request, "factors/policy.html", {"form": form})


def _person_page(request: HttpRequest, person: Person, back: str) -> HttpResponse:
    if request.method == "POST":
        if actions.reset(person, actor=actor_for(request)):
            messages.success(request, f"Removed every second factor of {person.shown_name}.")
        return redirect(request.path)
    summary = actions.summary(actions.enrolment_of(person))
    context = {"person": person, "requirement": policy.requirement(person), "back": back}
    context |= {"passkeys": summary["passkeys"], "has_totp": summary["authenticator app"]}
    context |= {"recovery_codes": summary["recovery codes"], "passwordless": summary["passwordless sign-in"]}
    return render(request, "factors/person.html", context)


@require_http_methods(["GET", "POST"])
@superadmin_required
def admin_factors(request: HttpRequest, admin_id: int) -> HttpResponse:
    admin = get_object_or_404(User, pk=admin_id)
    return _person_page(request, Person(user=admin), reverse("admin_edit", args=[admin.pk]))


@require_http_methods(["GET", "POST"])
@superadmin_required
def mailbox_factors(request: HttpRequest, name: str, local_part: str) -> HttpResponse:
    mailbox = mailbox_for(request, name, local_part)
    return _person_page(request, Person(mailbox=mailbox), reverse("mailbox_edit", args=[name, local_part]))
