"""Every named URL, tried as every role. A new URL must be added to MATRIX or this test fails."""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts import actions
from adopt.models import Adoption
from audit.log import COMMAND_LINE
from factors.models import Enrolment, Passkey
from tests.helpers import client_for, mailbox_client
from transfer.models import ImportJob

EMPTY_REPORT = {"source": "host.tgz", "files": [], "findings": [], "items": []}

ROLES = ["anonymous", "mailbox_user", "other_domain_admin", "domain_admin", "superadmin"]
LOGIN = "login"  # a redirect to the login page

# name: (method, expected outcome per role, in the order of ROLES)
MATRIX = {
    "login": ("GET", [200, 200, 200, 200, 200]),
    "logout": ("POST", [302, 302, 302, 302, 302]),
    # Signing in in two steps: without a password step first, the second step sends to the sign-in.
    "login_passkey_options": ("POST", [200, 200, 200, 200, 200]),
    "login_passkey": ("POST", [200, 200, 200, 200, 200]),  # no passkey sent: the sign-in page says so
    "login_second_factor": ("GET", [302, 302, 302, 302, 302]),
    "login_second_factor_options": ("POST", [302, 302, 302, 302, 302]),
    "factors": ("GET", [LOGIN, 200, 200, 200, 200]),
    "passkey_options": ("POST", [LOGIN, 200, 200, 200, 200]),
    "passkey_add": ("POST", [LOGIN, 200, 200, 200, 200]),  # no passkey sent: the page says so
    "passkey_remove": ("GET", [LOGIN, 404, 404, 404, 200]),  # the superadmin's passkey
    "totp_setup": ("GET", [LOGIN, 200, 200, 200, 200]),
    "totp_remove": ("GET", [LOGIN, 302, 302, 302, 302]),  # nobody has an app: back to the overview
    "recovery_codes": ("GET", [LOGIN, 200, 200, 200, 200]),
    "passwordless": ("POST", [LOGIN, 302, 302, 302, 302]),
    "factor_policy": ("GET", [LOGIN, 403, 403, 403, 200]),
    "admin_factors": ("GET", [LOGIN, 403, 403, 403, 200]),
    "mailbox_factors": ("GET", [LOGIN, 403, 403, 403, 200]),
    "account": ("GET", [LOGIN, 200, 403, 403, 403]),
    "dashboard": ("GET", [LOGIN, 403, 200, 200, 200]),
    "audit": ("GET", [LOGIN, 403, 200, 200, 200]),
    "config_status": ("GET", [LOGIN, 403, 403, 403, 200]),
    "config_apply": ("POST", [LOGIN, 403, 403, 403, 302]),
    "config_replace_hand_built": ("POST", [LOGIN, 403, 403, 403, 302]),
    "admin_list": ("GET", [LOGIN, 403, 403, 403, 200]),
    "postmaster": ("GET", [LOGIN, 403, 403, 403, 200]),
    "admin_create": ("GET", [LOGIN, 403, 403, 403, 200]),
    "admin_edit": ("GET", [LOGIN, 403, 403, 403, 200]),
    "domain_create": ("GET", [LOGIN, 403, 403, 403, 200]),
    "domain_detail": ("GET", [LOGIN, 403, 404, 200, 200]),
    "domain_edit": ("GET", [LOGIN, 403, 403, 403, 200]),
    "domain_delete": ("GET", [LOGIN, 403, 403, 403, 200]),
    "mailbox_create": ("GET", [LOGIN, 403, 404, 200, 200]),
    "dns_page": ("GET", [LOGIN, 403, 404, 200, 200]),
    "dns_check": ("POST", [LOGIN, 403, 404, 302, 302]),
    "dns_check_one": ("GET", [LOGIN, 403, 404, 200, 200]),
    "dns_zone": ("GET", [LOGIN, 403, 404, 200, 200]),
    "dns_zone_all": ("GET", [LOGIN, 403, 200, 200, 200]),
    "policy_edit": ("GET", [LOGIN, 403, 404, 200, 200]),
    "dkim_create": ("POST", [LOGIN, 403, 404, 200, 200]),
    "dkim_activate": ("POST", [LOGIN, 403, 404, 302, 302]),
    "dkim_remove": ("POST", [LOGIN, 403, 404, 302, 302]),
    "mta_sts_txt": ("GET", [404, 404, 404, 404, 404]),
    "autoconfig": ("GET", [404, 404, 404, 404, 404]),  # the test host is no mail domain
    "autoconfig_well_known": ("GET", [404, 404, 404, 404, 404]),
    "autodiscover": ("POST", [404, 404, 404, 404, 404]),  # an empty request names no address
    "autodiscover_capitalised": ("POST", [404, 404, 404, 404, 404]),
    "mobileconfig": ("GET", [LOGIN, 200, 403, 403, 403]),
    "vacation": ("GET", [LOGIN, 200, 403, 403, 403]),
    "app_passwords": ("GET", [LOGIN, 200, 403, 403, 403]),
    "confirm_identity": ("GET", [LOGIN, 200, 200, 200, 200]),
    "app_password_revoke": ("POST", [LOGIN, 302, 403, 403, 403]),
    "app_passwords_only": ("POST", [LOGIN, 302, 403, 403, 403]),
    "app_password_profile": ("POST", [LOGIN, 200, 403, 403, 403]),
    "mailbox_edit": ("GET", [LOGIN, 403, 404, 200, 200]),
    "mailbox_toggle": ("POST", [LOGIN, 403, 404, 302, 302]),
    "mailbox_delete": ("GET", [LOGIN, 403, 404, 200, 200]),
    "alias_create": ("GET", [LOGIN, 403, 404, 200, 200]),
    "alias_edit": ("GET", [LOGIN, 403, 404, 200, 200]),
    "alias_delete": ("GET", [LOGIN, 403, 404, 200, 200]),
    # API tokens: each admin their own (the superadmin's is the one in the world).
    "api_tokens": ("GET", [LOGIN, 403, 200, 200, 200]),
    "api_token_confirm": ("GET", [LOGIN, 403, 302, 302, 302]),  # nothing to confirm: back to the tokens
    "api_token_confirm_options": ("POST", [LOGIN, 403, 302, 302, 302]),
    "api_token_revoke": ("POST", [LOGIN, 403, 404, 404, 302]),
    # The REST API takes tokens only, never the session: tests/test_api_permissions.py tries tokens.
    "api_schema": ("GET", [200, 200, 200, 200, 200]),
    **{
        name: ("GET", [401, 401, 401, 401, 401])
        for name in ["api_token", "api_config", "api_audit", "api_domains", "api_domain", "api_mailboxes"]
        + ["api_mailbox", "api_aliases", "api_alias", "api_dkim_keys", "api_policy", "api_dns"]
    },
    **{
        name: ("POST", [401, 401, 401, 401, 401])
        for name in ["api_apply", "api_dkim_activate", "api_dns_check", "api_dns_check_one", "api_dkim_key"]
    },
    # CSV import and export: every admin, in their own domains; an import is its uploader's (the
    # world's is the domain admin's, refused by its dry run: nothing to confirm).
    "csv_transfer": ("GET", [LOGIN, 403, 200, 200, 200]),
    "csv_export": ("GET", [LOGIN, 403, 200, 200, 200]),
    "csv_import": ("POST", [LOGIN, 403, 400, 400, 400]),  # no file: the page says so
    "csv_import_job": ("GET", [LOGIN, 403, 404, 200, 200]),
    "csv_import_confirm": ("POST", [LOGIN, 403, 404, 302, 302]),
    "csv_import_cancel": ("POST", [LOGIN, 403, 404, 302, 302]),
    # Adopting a host built by hand: superadmins only (the world's adoption was refused: nothing to confirm).
    "adopt_page": ("GET", [LOGIN, 403, 403, 403, 200]),
    "adopt_upload": ("POST", [LOGIN, 403, 403, 403, 400]),  # no archive: the page says so
    "adoption": ("GET", [LOGIN, 403, 403, 403, 200]),
    "adoption_confirm": ("POST", [LOGIN, 403, 403, 403, 302]),
    "adoption_cancel": ("POST", [LOGIN, 403, 403, 403, 302]),
}


def named_urls(patterns=None, prefix="") -> list[URLPattern]:
    found = []
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            found += named_urls(pattern.url_patterns)
        elif pattern.name:
            found.append(pattern)
    return found


def test_every_named_url_is_in_the_matrix():
    assert sorted(p.name for p in named_urls()) == sorted(MATRIX)


@pytest.fixture
def world(domain, mailbox, superadmin, domain_admin, other_domain_admin):
    alias = actions.create_alias(domain, "info", ["alice@example.org"], actor=COMMAND_LINE)
    from domains.actions import create_dkim_key

    key = create_dkim_key(domain, actor=COMMAND_LINE)
    # A passkey of the superadmin's (who is signed in without the second step, by force_login).
    passkey = Passkey.objects.create(
        enrolment=Enrolment.objects.create(user=superadmin, user_handle="root"), name="Laptop", credential_id="AAAA"
    )
    app_password, _ = actions.create_app_password(mailbox, "phone", actor=COMMAND_LINE)
    from api.actions import create_token

    token, _ = create_token(superadmin, "ci", actor=COMMAND_LINE, writes=True, domains=None, expires_at=None)
    job = ImportJob.objects.create(owner=domain_admin, actor_name="admin dora, CSV import", state=ImportJob.REFUSED)
    adoption = Adoption.objects.create(owner=superadmin, state=Adoption.REFUSED, report=EMPTY_REPORT)
    return {
        "job_id": job.pk,
        "adoption_id": adoption.pk,
        "token_id": token.pk,
        "app_password_id": app_password.pk,
        "key_id": key.pk,
        "passkey_id": passkey.pk,
        "index": 0,
        "name": domain.name,
        "local_part": mailbox.local_part,
        "alias_id": alias.pk,
        "admin_id": domain_admin.pk,
        "users": {"superadmin": superadmin, "domain_admin": domain_admin, "other_domain_admin": other_domain_admin},
    }


def client_as(role: str, world: dict) -> Client:
    if role == "anonymous":
        return Client()
    if role == "mailbox_user":
        return mailbox_client("alice@example.org")
    return client_for(world["users"][role])


def url_for(pattern: URLPattern, world: dict) -> str:
    kwargs = {key: world[key] for key in pattern.pattern.converters}
    return reverse(pattern.name, kwargs=kwargs)


@pytest.mark.parametrize("role", ROLES)
def test_each_url_answers_each_role_as_the_matrix_says(role, world):
    mismatches = []
    for pattern in named_urls():
        method, outcomes = MATRIX[pattern.name]
        expected = outcomes[ROLES.index(role)]
        client = client_as(role, world)  # a fresh session each time: logout and toggles must not leak
        url = url_for(pattern, world)
        response = client.post(url) if method == "POST" else client.get(url)
        got = response.status_code
        if expected == LOGIN:
            ok = got == 302 and response["Location"].startswith("/login/?next=")
        else:
            ok = got == expected
        if not ok:
            mismatches.append(f"{method} {url}: expected {expected}, got {got}")
    assert not mismatches, "\n".join(mismatches)
