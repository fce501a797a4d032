"""Aliases to local and external addresses, and the catch-all."""

from pytest_django.asserts import assertContains

from accounts.models import Alias
from tests.helpers import htmx


def test_it_creates_an_alias_with_several_destinations(domain_admin_client, domain, mailbox):
    response = domain_admin_client.post(
        "/domains/example.org/aliases/new/",
        {
            "local_part": "Sales",
            "destinations": "alice@example.org, Bob+Sales@Partner.EXAMPLE\nalice@example.org",
            "active": "on",
        },
    )
    assert response.status_code == 302
    alias = Alias.objects.get()
    assert alias.local_part == "sales"
    assert alias.destinations == ["alice@example.org", "bob+sales@partner.example"]


def test_an_empty_address_is_the_catch_all_and_there_is_only_one(domain_admin_client, domain, mailbox):
    domain_admin_client.post(
        "/domains/example.org/aliases/new/", {"local_part": "", "destinations": "alice@example.org", "active": "on"}
    )
    alias = Alias.objects.get()
    assert alias.is_catch_all and str(alias) == "@example.org"
    assertContains(domain_admin_client.get("/domains/example.org/"), "catch-all")
    again = domain_admin_client.post(
        "/domains/example.org/aliases/new/", {"local_part": "", "destinations": "alice@example.org"}, **htmx("aliases")
    )
    assertContains(again, "example.org already has a catch-all.")
    assert Alias.objects.count() == 1


def test_bad_destinations_are_named_and_nothing_is_saved(domain_admin_client, domain):
    response = domain_admin_client.post(
        "/domains/example.org/aliases/new/",
        {"local_part": "x", "destinations": "ok@example.org, not-an-address, evil:user@example.org"},
    )
    assertContains(response, "“not-an-address” is not an email address")
    assertContains(response, "“evil:user@example.org”: The part before the @ cannot contain “:”")
    assertContains(
        domain_admin_client.post("/domains/example.org/aliases/new/", {"local_part": "x", "destinations": " , "}),
        "Enter at least one destination address.",
    )
    assertContains(
        domain_admin_client.post(
            "/domains/example.org/aliases/new/", {"local_part": "x", "destinations": "x@example.org"}
        ),
        "An alias cannot deliver to itself.",
    )
    assert not Alias.objects.exists()


def test_an_alias_cannot_take_a_mailbox_address(domain_admin_client, mailbox):
    response = domain_admin_client.post(
        "/domains/example.org/aliases/new/", {"local_part": "alice", "destinations": "bob@elsewhere.example"}
    )
    assertContains(response, "alice@example.org is already a mailbox.")


def test_it_edits_and_deletes_an_alias_inline(domain_admin_client, domain):
    domain_admin_client.post(
        "/domains/example.org/aliases/new/",
        {"local_part": "info", "destinations": "a@elsewhere.example", "active": "on"},
    )
    alias = Alias.objects.get()
    form = domain_admin_client.get(f"/domains/example.org/aliases/{alias.pk}/", **htmx())
    assertContains(form, "a@elsewhere.example</textarea>")
    saved = domain_admin_client.post(
        f"/domains/example.org/aliases/{alias.pk}/", {"destinations": "b@elsewhere.example"}, **htmx()
    )
    assertContains(saved, "b@elsewhere.example")
    alias.refresh_from_db()
    assert alias.destinations == ["b@elsewhere.example"] and not alias.active
    assert domain_admin_client.post(f"/domains/example.org/aliases/{alias.pk}/delete/", **htmx()).content == b""
    assert not Alias.objects.exists()
