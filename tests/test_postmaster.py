"""postmaster@ and abuse@ of every domain accept mail (RFC 5321 §4.5.1, RFC 2142): they go to the
host's postmaster, which a superadmin sets, unless a domain has its own."""

import html

import pytest
from django.core.exceptions import ValidationError
from pytest_django.asserts import assertContains, assertNotContains

from accounts import actions
from audit.log import COMMAND_LINE
from core.mailhost import host_config
from domains.actions import create_domain
from export.render import render
from export.snapshot import take_snapshot
from tests.helpers import MAIL_PASSWORD


def tables():
    files = render(take_snapshot(), host_config())
    virtuals = dict(line.split(" ", 1) for line in files["smtpd/virtuals"].decode().splitlines())
    senders = dict(line.split(" ", 1) for line in files["smtpd/senderaddrs"].decode().splitlines())
    return virtuals, senders


def test_every_domain_and_the_mail_hosts_name_send_postmaster_and_abuse_to_the_hosts_postmaster(
    domain, other_domain, mailbox, settings
):
    create_domain("example.net", actor=COMMAND_LINE, alias_of=domain)
    actions.set_postmaster("alice@example.org", actor=COMMAND_LINE)
    virtuals, senders = tables()
    for name in ["example.org", "other.example", "example.net", settings.MAIL_HOSTNAME]:
        assert virtuals[f"postmaster@{name}"] == "alice@example.org"
        assert virtuals[f"abuse@{name}"] == "alice@example.org"
    assert "postmaster@" not in senders["alice@example.org"]  # receiving them gives no right to send as them
    assert "abuse@" not in senders["alice@example.org"]


def test_a_domain_keeps_its_own_postmaster(domain, other_domain, mailbox):
    carol = actions.create_mailbox(other_domain, "carol", MAIL_PASSWORD, actor=COMMAND_LINE)
    actions.create_alias(other_domain, "postmaster", [carol.ascii_address], actor=COMMAND_LINE)
    actions.set_postmaster("alice@example.org", actor=COMMAND_LINE)
    virtuals, _ = tables()
    assert virtuals["postmaster@other.example"] == "carol@other.example"
    assert virtuals["abuse@other.example"] == "alice@example.org"


def test_no_postmaster_until_a_superadmin_sets_one_and_the_panel_asks_for_it(superadmin_client, domain):
    virtuals, _ = tables()
    assert "postmaster@example.org" not in virtuals
    assertContains(superadmin_client.get("/"), "This host has no postmaster yet")
    response = superadmin_client.post("/postmaster/", {"address": "hostmaster@elsewhere.example"})
    assert response.status_code == 302
    assertNotContains(superadmin_client.get("/"), "This host has no postmaster yet")
    virtuals, _ = tables()
    assert virtuals["abuse@example.org"] == "hostmaster@elsewhere.example"


def test_the_postmaster_must_receive_mail_and_cannot_be_deleted_or_disabled_from_under_it(
    superadmin_client, domain, mailbox
):
    response = superadmin_client.post("/postmaster/", {"address": "nobody@example.org"})
    assertContains(response, "nobody@example.org is neither a mailbox nor an alias here")
    actions.set_postmaster("alice@example.org", actor=COMMAND_LINE)
    with pytest.raises(ValidationError, match="receives the host's postmaster and abuse mail"):
        actions.delete_mailbox(mailbox, actor=COMMAND_LINE)
    response = superadmin_client.post("/domains/example.org/mailboxes/alice/toggle/", follow=True)
    assertContains(response, "receives the host&#x27;s postmaster and abuse mail")
    mailbox.refresh_from_db()
    assert mailbox.active


def test_the_edit_form_says_why_the_postmaster_mailbox_stays_enabled(superadmin_client, domain, mailbox):
    actions.set_postmaster("alice@example.org", actor=COMMAND_LINE)
    data = {"display_name": "Alice", "quota_mb": "0", "password1": "", "password2": ""}  # "active" unticked
    response = superadmin_client.post("/domains/example.org/mailboxes/alice/", data)
    assert "receives the host's postmaster and abuse mail" in html.unescape(response.content.decode())
    mailbox.refresh_from_db()
    assert mailbox.active
