"""The REST API does what the pages do, through the same forms and actions: the same refusals
in the same words, the same audit entries (naming the token), lists cut and searched the same
way; a token is its owner's rights now, within its scope, and is throttled."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import actions
from accounts.models import Mailbox
from api.models import ApiToken
from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from domains.models import DkimKey
from tests.test_api_helpers import ApiClient, api_as, token_for

MAILBOXES = "/api/v1/domains/example.org/mailboxes/"


@pytest.mark.parametrize(
    "fields",
    [
        {"local_part": "bob smith", "password1": "a fine mail password", "password2": "a fine mail password"},
        {
            "local_part": "bob",
            "quota_mb": "2X",
            "password1": "a fine mail password",
            "password2": "a fine mail password",
        },
        {"local_part": "bob", "password1": "bob", "password2": "bob"},
        {"local_part": "alice", "password1": "a fine mail password", "password2": "a fine mail password"},
        {"local_part": "bob\u202e", "password1": "a fine mail password", "password2": "a fine mail password"},
    ],
)
def test_it_refuses_what_the_form_refuses_in_the_same_words(fields, domain_admin, domain_admin_client, mailbox):
    page = domain_admin_client.post("/domains/example.org/mailboxes/new/", fields | {"active": "on"})
    form_errors = page.context["form"].errors
    api = {"local_part": fields["local_part"], "password": fields["password1"]}
    if "quota_mb" in fields:
        api["quota"] = fields["quota_mb"]
    response = api_as(domain_admin).send("POST", MAILBOXES, api)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    names = {"quota_mb": "quota", "password1": "password", "__all__": None}
    expected = {names.get(field, field): list(messages) for field, messages in form_errors.items()}
    expected.pop(None, None)
    assert problem["errors"] == expected
    assert problem["title"] == "Bad Request" and problem["status"] == 400
    assert all(message in problem["detail"] for messages in expected.values() for message in messages)
    assert Mailbox.objects.count() == 1


def test_changes_are_audited_as_the_tokens_owner_marked_as_api(domain_admin, mailbox):
    client = api_as(domain_admin, name="HR import")
    client.send("POST", MAILBOXES, {"local_part": "bob", "password": "a fine mail password"})
    client.send("PATCH", MAILBOXES + "bob/", {"display_name": "Bob", "password": "another fine password"})
    client.send("DELETE", MAILBOXES + "bob/")
    entries = AuditEntry.objects.filter(object_name="bob@example.org").order_by("id")
    assert [(e.actor_id, e.actor_name, e.action) for e in entries] == [
        (domain_admin.pk, "admin dora (API token “HR import”)", "created"),
        (domain_admin.pk, "admin dora (API token “HR import”)", "updated"),
        (domain_admin.pk, "admin dora (API token “HR import”)", "changed password"),
        (domain_admin.pk, "admin dora (API token “HR import”)", "deleted"),
    ]
    assert "another fine password" not in str(list(entries.values()))


def test_a_patch_changes_only_the_fields_it_names(domain_admin, mailbox):
    actions.update_mailbox(mailbox, actor=COMMAND_LINE, quota_mb=2048, active=False)
    response = api_as(domain_admin).send("PATCH", MAILBOXES + "alice/", {"display_name": "Alice"})
    assert response.status_code == 200
    assert (response.json()["display_name"], response.json()["quota_mb"], response.json()["active"]) == (
        "Alice",
        2048,
        False,
    )


def test_lists_are_paged_and_searched_as_the_pages_do(domain_admin, domain, settings):
    settings.PAGE_SIZE = 2
    for name in ["ann", "bea", "bob", "cyd", "dan"]:
        actions.create_mailbox(domain, name, "a fine mail password", actor=COMMAND_LINE, password_hash="x")
    client = api_as(domain_admin)
    first = client.get(MAILBOXES).json()
    assert (first["count"], first["pages"], first["page"], first["next"], first["previous"]) == (5, 3, 1, 2, None)
    assert [m["local_part"] for m in first["results"]] == ["ann", "bea"]
    assert client.get(MAILBOXES + "?page=99").json()["page"] == 3  # past the end: the last page, as the pages
    found = client.get(MAILBOXES + "?q=B").json()
    assert [m["address"] for m in found["results"]] == ["bea@example.org", "bob@example.org"]
    assert client.get(MAILBOXES + "?q=b%00").json()["count"] == 0


def test_a_token_stops_working_when_its_owner_loses_the_domain_or_is_disabled(domain_admin, domain, other_domain):
    client = api_as(domain_admin)
    assert client.get(MAILBOXES).status_code == 200
    actions.update_admin(domain_admin, actor=COMMAND_LINE, superadmin=False, domains=[other_domain], active=True)
    assert client.get(MAILBOXES).status_code == 404
    assert client.get("/api/v1/domains/other.example/mailboxes/").status_code == 200
    actions.update_admin(domain_admin, actor=COMMAND_LINE, superadmin=False, domains=[other_domain], active=False)
    response = client.get("/api/v1/domains/other.example/mailboxes/")
    assert response.status_code == 401
    assert response.json()["detail"] == "This token's admin is disabled."
    assert response["WWW-Authenticate"] == 'Bearer realm="mailadmin API"'


def test_a_token_for_some_domains_sees_only_those_and_their_alias_domains(superadmin, domain, other_domain):
    from domains.actions import create_domain

    create_domain("alias.example", actor=COMMAND_LINE, alias_of=domain)
    client = api_as(superadmin, domains=[domain])
    names = [d["name"] for d in client.get("/api/v1/domains/").json()["results"]]
    assert names == ["alias.example", "example.org"]
    assert client.get("/api/v1/domains/other.example/").status_code == 404
    # A superadmin's token for some domains is a domain admin of them: no host-wide rights.
    assert client.send("POST", "/api/v1/domains/", {"name": "new.example"}).status_code == 403
    assert "generations" not in client.get("/api/v1/config/").json()


def test_expired_and_unknown_tokens_are_refused(domain_admin):
    expired = ApiClient(token_for(domain_admin, expires_at=timezone.now() - timedelta(minutes=1)))
    assert expired.get("/api/v1/token/").json()["detail"] == "This token has expired."
    assert ApiClient("mat_nothing").get("/api/v1/token/").json()["detail"].startswith("This token is not valid")
    assert ApiClient().get("/api/v1/token/").status_code == 401


def test_each_token_is_throttled_on_its_own_and_its_last_use_noted(domain_admin, settings):
    settings.API_REQUESTS_PER_MINUTE = 3
    busy, quiet = api_as(domain_admin, name="busy"), api_as(domain_admin, name="quiet")
    assert [busy.get("/api/v1/token/").status_code for _ in range(4)] == [200, 200, 200, 429]
    refused = busy.get("/api/v1/token/")
    assert refused["Content-Type"] == "application/problem+json" and 1 <= int(refused["Retry-After"]) <= 60
    assert quiet.get("/api/v1/token/").status_code == 200
    assert ApiToken.objects.get(name="quiet").last_used_at is not None
    ApiToken.objects.filter(name="busy").update(window_started_at=timezone.now() - timedelta(minutes=1))
    assert busy.get("/api/v1/token/").status_code == 200  # a new minute


def test_catch_alls_and_alias_domains_as_the_pages_make_them(superadmin, domain, mailbox):
    client = api_as(superadmin)
    catch_all = client.send(
        "POST", "/api/v1/domains/example.org/aliases/", {"local_part": "", "destinations": ["alice@example.org"]}
    )
    assert catch_all.status_code == 201 and catch_all.json()["catch_all"] is True
    twice = client.send(
        "POST", "/api/v1/domains/example.org/aliases/", {"local_part": "", "destinations": ["alice@example.org"]}
    )
    assert twice.json()["detail"] == "example.org already has a catch-all."
    made = client.send("POST", "/api/v1/domains/", {"name": "Alias.Example", "alias_of": "example.org"})
    assert made.status_code == 201 and made.json()["alias_of"] == "example.org"
    refused = client.send(
        "POST", "/api/v1/domains/alias.example/mailboxes/", {"local_part": "x", "password": "a fine mail password"}
    )
    assert refused.json()["detail"] == "alias.example delivers as example.org; add addresses there instead."
    unknown = client.send("PATCH", "/api/v1/domains/alias.example/", {"alias_of": "nowhere.example"})
    assert list(unknown.json()["errors"]) == ["alias_of"]
    assert client.send("PATCH", "/api/v1/domains/alias.example/", {"alias_of": None}).json()["alias_of"] is None


def test_dkim_keys_go_through_their_rotation_steps(domain_admin, domain):
    client = api_as(domain_admin)
    keys = "/api/v1/domains/example.org/dkim-keys/"
    first = client.get(keys).json()[0]
    early = client.send("POST", f"{keys}{first['id']}/activate/", {})
    assert early.status_code == 400
    assert early.json()["detail"].startswith(f"The record of {first['selector']} has not been seen in DNS yet")
    DkimKey.objects.filter(pk=first["id"]).update(published_at=timezone.now())
    assert client.send("POST", f"{keys}{first['id']}/activate/", {}).json()["state"] == "active"
    second = client.send("POST", keys, {"kind": "rsa-2048", "selector": "next"}).json()
    assert second["state"] == "pending" and second["record_name"] == "next._domainkey.example.org"
    assert client.send("POST", keys, {"kind": "rsa-2048", "selector": "next"}).json()["errors"] == {
        "selector": ["example.org already has a key with the selector next."]
    }
    assert client.send("POST", f"{keys}{second['id']}/activate/", {"unpublished_ok": True}).json()["state"] == "active"
    refused = client.send("DELETE", f"{keys}{second['id']}/")
    assert refused.json()["detail"] == "Switch signing to another key before removing the active one."
    retired = client.send("DELETE", f"{keys}{first['id']}/")
    assert retired.status_code == 200 and retired.json()["state"] == "removed"
    assert DkimKey.objects.get(pk=first["id"]).private_key_encrypted == ""


def test_the_policy_form_decides_what_a_policy_may_be(domain_admin, domain):
    client = api_as(domain_admin)
    loop = client.send("PATCH", "/api/v1/domains/example.org/policy/", {"spf_mechanisms": "mx include:example.org"})
    assert loop.json()["errors"] == {
        "spf_mechanisms": ["“include:example.org” includes this domain's own record, a loop receivers reject."]
    }
    changed = client.send(
        "PATCH", "/api/v1/domains/example.org/policy/", {"dmarc_p": "quarantine", "mx_hosts": "10 MX.example.org"}
    )
    assert (changed.json()["dmarc_p"], changed.json()["mx_hosts"], changed.json()["spf_all"]) == (
        "quarantine",
        "10 mx.example.org",
        "-all",
    )
    entry = AuditEntry.objects.get(object_type="DNS policy")
    assert entry.changes == {"mx_hosts": ["", "10 mx.example.org"], "dmarc_p": ["reject", "quarantine"]}


def test_dns_records_come_with_their_last_check(domain_admin, domain):
    client = api_as(domain_admin)
    before = client.get("/api/v1/domains/example.org/dns/").json()
    assert before["records"][0]["check"] is None and "IN MX" in before["zone_file"]
    checked = client.send("POST", "/api/v1/domains/example.org/dns/check/0/", {}).json()
    assert checked["check"]["status"] == "error"  # tests' resolver answers nothing
    assert client.get("/api/v1/domains/example.org/dns/").json()["records"][0]["check"]["status"] == "error"
    assert client.send("POST", "/api/v1/domains/example.org/dns/check/999/", {}).status_code == 404


def test_the_apply_status_and_apply_now(superadmin, domain_admin, domain, settings, tmp_path):
    settings.HELPER_SOCKET = tmp_path / "nobody-listens.sock"  # whatever else runs on this machine
    assert "generations" not in api_as(domain_admin).get("/api/v1/config/").json()
    client = api_as(superadmin, name="deploy")
    generation = client.send("POST", "/api/v1/config/apply/", {}).json()
    assert generation["requested_by"] == "admin root (API token “deploy”)"
    assert generation["ok"] is False and "helper" in generation["error"]
    status = client.get("/api/v1/config/").json()
    assert status["generations"][0]["id"] == generation["id"] and status["last_ok"] is False


def test_the_audit_log_shows_a_domain_admin_their_domains_only(domain_admin, other_domain_admin, mailbox):
    mine = api_as(domain_admin).get("/api/v1/audit/?q=alice").json()
    assert [e["object_name"] for e in mine["results"]] == ["alice@example.org"]
    assert api_as(other_domain_admin).get("/api/v1/audit/?q=alice").json()["count"] == 0


@pytest.mark.parametrize(
    "url", ["/api/v1/domains/", "/api/v1/domains/demo000.example/mailboxes/?page=2&q=user", "/api/v1/audit/"]
)
def test_lists_make_a_fixed_number_of_queries_however_many_rows(superadmin, url, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.management.commands.loaddemo import load_demo
    from domains.models import Domain

    settings.PAGE_SIZE = 10
    client = api_as(superadmin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    load_demo(mailboxes=30, domains=3)
    few = queries()
    Domain.objects.all().delete()
    load_demo(mailboxes=600, domains=30)
    assert few == queries() <= 5
