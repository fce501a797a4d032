"""Admins create, edit, disable and delete mailboxes, with plain forms and inline with htmx."""

from pytest_django.asserts import assertContains, assertNotContains

from accounts import actions, mailpasswords
from accounts.models import Mailbox
from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from tests.helpers import MAIL_PASSWORD, htmx

NEW = {
    "local_part": "Bob",
    "display_name": "Bob",
    "quota_mb": "2G",
    "active": "on",
    "password1": "a fine mail password",
    "password2": "a fine mail password",
}


def test_it_creates_a_mailbox_with_a_plain_form(domain_admin_client, domain):
    response = domain_admin_client.post("/domains/example.org/mailboxes/new/", NEW)
    assert response.status_code == 302 and response["Location"] == "/domains/example.org/"
    bob = Mailbox.objects.get(domain=domain, local_part="bob")
    assert bob.quota_mb == 2048 and bob.active
    assert bob.password_hash.startswith("$y$")
    assert mailpasswords.check_hash("a fine mail password", bob.password_hash)


def test_it_creates_a_mailbox_inline_and_returns_the_refreshed_section(domain_admin_client, domain):
    response = domain_admin_client.post("/domains/example.org/mailboxes/new/", NEW, **htmx("mailboxes"))
    assertContains(response, '<section id="mailboxes"')  # the swapped region itself, not a whole page
    assertContains(response, "bob@example.org")
    assertContains(response, "Added the mailbox bob@example.org.")
    assertNotContains(response, "<html")


def test_it_takes_the_domain_default_quota(superadmin_client, domain):
    domain.default_quota_mb = 512
    domain.save()
    superadmin_client.post("/domains/example.org/mailboxes/new/", NEW | {"quota_mb": "512M"})
    assert Mailbox.objects.get(local_part="bob").quota_mb == 512
    assertContains(superadmin_client.get("/domains/example.org/mailboxes/new/"), 'value="512M"')


def test_bad_input_gets_an_error_next_to_the_field_and_changes_nothing(domain_admin_client, domain):
    cases = {
        "local_part": ("bo:b", "cannot contain “:”"),
        "quota_mb": ("lots", "Enter a size such as 500M"),
        "password2": ("something else entirely", "The two passwords differ."),
    }
    for field, (value, message) in cases.items():
        response = domain_admin_client.post("/domains/example.org/mailboxes/new/", NEW | {field: value})
        assert response.status_code == 200
        assertContains(response, message)
    response = domain_admin_client.post(
        "/domains/example.org/mailboxes/new/", NEW | {"password1": "short", "password2": "short"}
    )
    assertContains(response, "This password is too short.")
    assert not Mailbox.objects.exists()
    assert not AuditEntry.objects.filter(object_type="mailbox").exists()


def test_it_refuses_an_address_that_is_already_a_mailbox_or_an_alias(domain_admin_client, mailbox):
    response = domain_admin_client.post("/domains/example.org/mailboxes/new/", NEW | {"local_part": "alice"})
    assertContains(response, "alice@example.org is already a mailbox.")
    domain_admin_client.post(
        "/domains/example.org/aliases/new/", {"local_part": "info", "destinations": "alice@example.org", "active": "on"}
    )
    response = domain_admin_client.post("/domains/example.org/mailboxes/new/", NEW | {"local_part": "info"})
    assertContains(response, "info@example.org is already an alias.")
    assert Mailbox.objects.count() == 1


def test_it_edits_a_mailbox_and_resets_its_password(domain_admin_client, mailbox):
    old_hash = mailbox.password_hash
    response = domain_admin_client.post(
        "/domains/example.org/mailboxes/alice/",
        {
            "display_name": "Alice L.",
            "quota_mb": "1G",
            "active": "on",
            "password1": "brand new mail password",
            "password2": "brand new mail password",
        },
    )
    assert response.status_code == 302
    mailbox.refresh_from_db()
    assert (mailbox.display_name, mailbox.quota_mb) == ("Alice L.", 1024)
    assert mailbox.password_hash != old_hash and mailpasswords.check_hash(
        "brand new mail password", mailbox.password_hash
    )


def test_editing_without_a_password_keeps_the_old_one(domain_admin_client, mailbox):
    domain_admin_client.post(
        "/domains/example.org/mailboxes/alice/", {"display_name": "A", "quota_mb": "0", "active": "on"}
    )
    mailbox.refresh_from_db()
    assert mailpasswords.check_hash(MAIL_PASSWORD, mailbox.password_hash)


def test_inline_edit_shows_a_form_row_then_the_saved_row(domain_admin_client, mailbox):
    form = domain_admin_client.get("/domains/example.org/mailboxes/alice/", **htmx())
    assertContains(form, f'<tr id="mailbox-{mailbox.pk}" class="editing">')
    assertNotContains(form, "<html")
    saved = domain_admin_client.post(
        "/domains/example.org/mailboxes/alice/",
        {"display_name": "Queen Alice", "quota_mb": "0", "active": "on"},
        **htmx(),
    )
    assertContains(saved, f'<tr id="mailbox-{mailbox.pk}" class="saved">')
    assertContains(saved, "Queen Alice")
    error = domain_admin_client.post(
        "/domains/example.org/mailboxes/alice/", {"display_name": "x", "quota_mb": "-5", "active": "on"}, **htmx()
    )
    assertContains(error, "Enter a size such as 500M")
    assertContains(error, 'class="editing"')


def test_it_disables_and_enables_a_mailbox(domain_admin_client, mailbox):
    response = domain_admin_client.post("/domains/example.org/mailboxes/alice/toggle/", **htmx())
    assertContains(response, "disabled")
    assertContains(response, '<button type="submit" class="link">Enable</button>', html=True)
    mailbox.refresh_from_db()
    assert not mailbox.active
    domain_admin_client.post("/domains/example.org/mailboxes/alice/toggle/")
    mailbox.refresh_from_db()
    assert mailbox.active


def test_delete_asks_for_confirmation_first(domain_admin_client, mailbox):
    confirm = domain_admin_client.get("/domains/example.org/mailboxes/alice/delete/")
    assertContains(confirm, "Delete the mailbox alice@example.org?")
    assert Mailbox.objects.exists()
    response = domain_admin_client.post("/domains/example.org/mailboxes/alice/delete/")
    assert response.status_code == 302
    assert not Mailbox.objects.exists()


def test_inline_delete_returns_nothing_so_the_row_disappears(domain_admin_client, mailbox):
    row = domain_admin_client.get("/domains/example.org/")
    assertContains(row, 'hx-confirm="Delete the mailbox alice@example.org?')
    response = domain_admin_client.post("/domains/example.org/mailboxes/alice/delete/", **htmx())
    assert response.status_code == 200 and response.content == b""
    assert not Mailbox.objects.exists()


def test_search_finds_mailboxes_by_the_start_of_their_address(domain_admin_client, domain, mailbox):
    from accounts.actions import create_mailbox
    from audit.log import COMMAND_LINE

    create_mailbox(domain, "albert", "", actor=COMMAND_LINE, password_hash=mailbox.password_hash)
    create_mailbox(domain, "bob", "", actor=COMMAND_LINE, password_hash=mailbox.password_hash)
    response = domain_admin_client.get("/domains/example.org/?mq=AL", **htmx("mailbox-results"))
    assertContains(response, "alice@example.org")
    assertContains(response, "albert@example.org")
    assertNotContains(response, "bob@example.org")
    assertContains(domain_admin_client.get("/domains/example.org/?mq=alice@example.org"), "alice@example.org")
    assertContains(domain_admin_client.get("/domains/example.org/?mq=zed"), "No mailbox starts with “zed”.")


def test_an_admins_edit_does_not_undo_a_password_change_made_meanwhile(mailbox):
    admins_copy = Mailbox.objects.get(pk=mailbox.pk)  # loaded when the admin opened the form
    users_copy = Mailbox.objects.get(pk=mailbox.pk)
    actions.set_mailbox_password(users_copy, "the users new password", actor=COMMAND_LINE)
    actions.update_mailbox(admins_copy, actor=COMMAND_LINE, quota_mb=4096, display_name="Alice L.")
    stored = Mailbox.objects.get(pk=mailbox.pk)
    assert mailpasswords.check_hash("the users new password", stored.password_hash)
    assert stored.quota_mb == 4096 and stored.display_name == "Alice L."


def test_a_toggle_does_not_undo_a_quota_change_made_meanwhile(domain_admin_client, mailbox):
    stale = Mailbox.objects.get(pk=mailbox.pk)
    actions.update_mailbox(Mailbox.objects.get(pk=mailbox.pk), actor=COMMAND_LINE, quota_mb=100)
    actions.update_mailbox(stale, actor=COMMAND_LINE, active=False)
    stored = Mailbox.objects.get(pk=mailbox.pk)
    assert stored.quota_mb == 100 and not stored.active
