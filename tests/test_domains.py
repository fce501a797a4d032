"""Superadmins add, edit and delete domains; alias domains deliver as another domain."""

from pytest_django.asserts import assertContains

from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from domains.actions import create_domain
from domains.models import Domain
from tests.helpers import htmx


def test_it_adds_an_internationalised_domain_and_shows_its_unicode_name(superadmin_client):
    response = superadmin_client.post(
        "/domains/new/", {"name": "Bücher.Example", "active": "on", "default_quota_mb": "1G"}
    )
    assert response.status_code == 302 and response["Location"] == "/domains/xn--bcher-kva.example/"
    domain = Domain.objects.get()
    assert (domain.name, domain.default_quota_mb) == ("xn--bcher-kva.example", 1024)
    page = superadmin_client.get("/domains/xn--bcher-kva.example/")
    assertContains(page, "<h1>bücher.example</h1>", html=True)
    assertContains(page, "<code>xn--bcher-kva.example</code>", html=True)


def test_it_adds_a_domain_inline_from_the_dashboard(superadmin_client):
    response = superadmin_client.post("/domains/new/", {"name": "example.net", "active": "on"}, **htmx("domains"))
    assertContains(response, '<section id="domains"')
    assertContains(response, "Added example.net.")


def test_a_bad_or_duplicate_name_gets_a_specific_error_and_changes_nothing(superadmin_client, domain):
    assertContains(
        superadmin_client.post("/domains/new/", {"name": "exa mple.org"}), "A domain name cannot contain a space."
    )
    assertContains(superadmin_client.post("/domains/new/", {"name": "EXAMPLE.org."}), "example.org already exists.")
    error = superadmin_client.post("/domains/new/", {"name": "bad/name.org"}, **htmx("domains"))
    assertContains(error, "A domain name cannot contain “/”.")
    assertContains(error, '<details class="add" open>')
    assert list(Domain.objects.values_list("name", flat=True)) == ["example.org"]


def test_an_alias_domain_delivers_as_its_target_and_holds_no_mailboxes(superadmin_client, domain, mailbox):
    superadmin_client.post("/domains/new/", {"name": "example.com", "active": "on", "alias_of": domain.name})
    alias_domain = Domain.objects.get(name="example.com")
    assert alias_domain.alias_of == domain
    assertContains(superadmin_client.get("/domains/example.com/"), "This is an alias domain")
    response = superadmin_client.post(
        "/domains/example.com/mailboxes/new/",
        {
            "local_part": "bob",
            "quota_mb": "0",
            "password1": "a fine mail password",
            "password2": "a fine mail password",
        },
    )
    assertContains(response, "example.com delivers as example.org; add addresses there instead.")


def test_a_domain_with_mailboxes_cannot_become_an_alias_domain(superadmin_client, domain, other_domain, mailbox):
    response = superadmin_client.post(
        "/domains/example.org/edit/", {"active": "on", "default_quota_mb": "0", "alias_of": other_domain.name}
    )
    assertContains(response, "example.org has mailboxes or aliases; remove them before making it an alias domain.")
    domain.refresh_from_db()
    assert domain.alias_of is None


def test_editing_records_before_and_after(superadmin_client, domain):
    superadmin_client.post("/domains/example.org/edit/", {"default_quota_mb": "5G"})
    entry = AuditEntry.objects.filter(action="updated").get()
    assert entry.changes == {"active": [True, False], "default_quota_mb": [0, 5120]}


def test_deleting_a_domain_asks_first_and_counts_what_goes_with_it(superadmin_client, domain, mailbox):
    assertContains(superadmin_client.get("/domains/example.org/delete/"), "1 mailbox")
    superadmin_client.post("/domains/example.org/delete/")
    assert not Domain.objects.exists()
    entry = AuditEntry.objects.get(action="deleted", object_type="domain")
    assert entry.domain_name == "example.org" and entry.changes["mailboxes"] == [1, 0]


def test_a_domain_other_domains_deliver_as_cannot_be_deleted(superadmin_client, domain):
    Domain.objects.create(name="example.com", alias_of=domain)
    response = superadmin_client.post("/domains/example.org/delete/")
    assertContains(response, "example.com deliver as example.org; delete or change them first.")
    assert Domain.objects.count() == 2


def test_dashboard_counts_and_search(domain_admin_client, domain, mailbox, other_domain):
    page = domain_admin_client.get("/")
    assertContains(page, "example.org")
    assert "other.example" not in page.content.decode()  # not this admin's domain
    assertContains(page, "<td>1</td>", html=True)
    results = domain_admin_client.get("/?q=zzz", **htmx("domain-results"))
    assertContains(results, "No domain starts with “zzz”.")


def test_a_domain_admin_can_open_the_alias_domains_their_domain_receives_for(domain_admin_client, domain, other_domain):
    create_domain("example.net", actor=COMMAND_LINE, alias_of=domain)
    create_domain("other.net", actor=COMMAND_LINE, alias_of=other_domain)
    page = domain_admin_client.get("/domains/example.org/")
    assertContains(page, 'href="/domains/example.net/"')
    assert domain_admin_client.get("/domains/example.net/").status_code == 200
    assert domain_admin_client.get("/domains/example.net/dns/").status_code == 200
    assert domain_admin_client.get("/domains/other.net/").status_code == 404


def test_an_alias_target_is_typed_by_name_and_an_unknown_one_is_refused(superadmin_client, domain):
    refused = superadmin_client.post(
        "/domains/new/", {"name": "example.com", "active": "on", "alias_of": "nowhere.org"}
    )
    assertContains(refused, "There is no ordinary domain nowhere.org here to deliver to.")
    assert not Domain.objects.filter(name="example.com").exists()

    superadmin_client.post("/domains/new/", {"name": "example.com", "active": "on", "alias_of": " Example.ORG "})
    assert Domain.objects.get(name="example.com").alias_of == domain
    edit = superadmin_client.get("/domains/example.com/edit/").content.decode()
    assert 'name="alias_of" value="example.org"' in edit


def test_the_dashboard_lists_no_domain_twice_however_many_there_are(superadmin_client, domain):
    # The form's target is typed, not chosen from a list of every domain on the host.
    from accounts.management.commands.loaddemo import load_demo

    load_demo(mailboxes=0, domains=120)
    page = superadmin_client.get("/").content.decode()
    assert "<option" not in page
