"""A mailbox user sees their client settings and changes their own password, and nothing else."""

from django.test import Client
from pytest_django.asserts import assertContains

from accounts import mailpasswords
from audit.models import AuditEntry
from core.mailhost import host_config
from tests.helpers import MAIL_PASSWORD, mailbox_client

NEW = "a much better password"


def change(client: Client, current: str = MAIL_PASSWORD, new: str = NEW, again: str | None = None):
    return client.post("/account/", {"current_password": current, "password1": new, "password2": again or new})


def test_it_shows_the_mail_client_settings(mailbox_user_client, settings):
    response = mailbox_user_client.get("/account/")
    assertContains(response, "alice@example.org")
    host = host_config()  # what the daemons listen on (the lab's ports when its tests ran first)
    assertContains(response, f"<code>{settings.MAIL_HOSTNAME}</code>, port {host.imaps_port}, SSL/TLS", html=False)
    assertContains(response, f"port {host.smtps_port}")
    assertContains(response, f"port {host.submission_port} with STARTTLS")


def test_it_changes_the_password_end_to_end(mailbox_user_client, mailbox):
    response = change(mailbox_user_client)
    assert response.status_code == 302
    assertContains(mailbox_user_client.get("/account/"), "Your password is changed.")
    mailbox.refresh_from_db()
    assert mailpasswords.check_hash(NEW, mailbox.password_hash)
    assert not mailpasswords.check_hash(MAIL_PASSWORD, mailbox.password_hash)
    # The old password no longer signs in; the new one does.
    assert Client().post("/login/", {"username": "alice@example.org", "password": MAIL_PASSWORD}).status_code == 200
    mailbox_client("alice@example.org", NEW)
    entry = AuditEntry.objects.get(action="changed password")
    assert entry.actor_name == "mailbox alice@example.org"
    assert entry.changes == {"password": ["(not shown)", "(changed)"]}


def test_other_sessions_of_the_mailbox_end_when_the_password_changes(mailbox_user_client, mailbox):
    other_session = mailbox_client("alice@example.org")
    change(mailbox_user_client)
    assert mailbox_user_client.get("/account/").status_code == 200
    assert other_session.get("/account/").status_code == 302


def test_it_needs_the_current_password(mailbox_user_client, mailbox):
    assertContains(change(mailbox_user_client, current="not it"), "This is not your current password.")
    mailbox.refresh_from_db()
    assert mailpasswords.check_hash(MAIL_PASSWORD, mailbox.password_hash)


def test_it_applies_the_password_validators(mailbox_user_client, mailbox):
    assertContains(change(mailbox_user_client, new="short"), "This password is too short.")
    assertContains(change(mailbox_user_client, new="1234567890123"), "This password is entirely numeric.")
    assertContains(change(mailbox_user_client, new="password123"), "This password is too common.")
    assertContains(change(mailbox_user_client, new=NEW, again="another one!"), "The two passwords differ.")
    assertContains(change(mailbox_user_client, new=MAIL_PASSWORD), "must differ from the current one")
    mailbox.refresh_from_db()
    assert mailpasswords.check_hash(MAIL_PASSWORD, mailbox.password_hash)


def test_a_mailbox_user_sees_no_admin_page(mailbox_user_client):
    for url in ["/", "/audit/", "/domains/example.org/", "/admins/"]:
        assert mailbox_user_client.get(url).status_code == 403
