"""The audit log: who changed what, before and after, never a secret; scoped to the admin's domains."""

import json

from pytest_django.asserts import assertContains, assertNotContains

from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from tests.helpers import MAIL_PASSWORD


def test_every_change_is_recorded_with_who_and_what(domain_admin_client, domain):
    domain_admin_client.post(
        "/domains/example.org/mailboxes/new/",
        {
            "local_part": "bob",
            "quota_mb": "1G",
            "active": "on",
            "password1": "a fine mail password",
            "password2": "a fine mail password",
        },
    )
    domain_admin_client.post(
        "/domains/example.org/mailboxes/bob/", {"display_name": "Bob", "quota_mb": "2G", "active": "on"}
    )
    domain_admin_client.post("/domains/example.org/mailboxes/bob/delete/")
    entries = list(AuditEntry.objects.filter(object_type="mailbox").order_by("id"))
    assert [(e.actor_name, e.action, e.object_name) for e in entries] == [
        ("admin dora", "created", "bob@example.org"),
        ("admin dora", "updated", "bob@example.org"),
        ("admin dora", "deleted", "bob@example.org"),
    ]
    assert entries[1].changes == {"display_name": ["", "Bob"], "quota_mb": [1024, 2048]}


def test_no_password_or_hash_ever_reaches_the_log(domain_admin_client, mailbox_user_client, mailbox):
    domain_admin_client.post(
        "/domains/example.org/mailboxes/alice/",
        {
            "display_name": "A",
            "quota_mb": "0",
            "active": "on",
            "password1": "admin chose this one",
            "password2": "admin chose this one",
        },
    )
    mailbox.refresh_from_db()
    logged = json.dumps(list(AuditEntry.objects.values()), default=str)
    for secret in [MAIL_PASSWORD, "admin chose this one", mailbox.password_hash, "$y$", "argon2"]:
        assert secret not in logged


def test_domain_admins_see_only_their_domains_entries(
    domain_admin_client, other_domain_admin_client, superadmin_client, mailbox
):
    assertContains(domain_admin_client.get("/audit/"), "alice@example.org")
    assertNotContains(other_domain_admin_client.get("/audit/"), "alice@example.org")
    page = superadmin_client.get("/audit/")
    assertContains(page, "alice@example.org")
    assertContains(page, "dora")  # creating admins is logged too, for superadmins only
    assertNotContains(domain_admin_client.get("/audit/"), "created admin")


def test_the_log_can_be_searched(superadmin_client, mailbox):
    assertContains(superadmin_client.get("/audit/?q=alice"), "alice@example.org")
    assertNotContains(superadmin_client.get("/audit/?q=bob"), "alice@example.org")


def test_the_log_reads_as_people_write_things_not_as_the_database_stores_them(superadmin_client, superadmin):
    from domains.actions import create_domain, update_domain

    target = create_domain("bücher.example", actor=COMMAND_LINE)
    alias = create_domain("alias.example", actor=COMMAND_LINE)
    update_domain(alias, actor=COMMAND_LINE, alias_of=target, active=False, default_quota_mb=2048)
    page = superadmin_client.get("/audit/?q=alias")
    assertContains(page, "<li>delivers as: — → bücher.example</li>", html=True)
    assertContains(page, "<li>active: yes → no</li>", html=True)
    assertContains(page, "<li>default quota: unlimited → 2G</li>", html=True)
    assertNotContains(page, "alias_of_id")
    assertContains(superadmin_client.get("/audit/?q=xn--"), "bücher.example")


def test_paging_keeps_a_search_with_an_ampersand(superadmin_client, settings):
    from domains.actions import create_domain

    settings.PAGE_SIZE = 2
    for n in range(5):
        create_domain(f"d{n}.example", actor=COMMAND_LINE)
    page = superadmin_client.get("/audit/", {"q": "d&x"})
    assert page.status_code == 200
    page = superadmin_client.get("/", {"q": "d"})
    assertContains(page, 'href="?q=d&amp;page=2"')
