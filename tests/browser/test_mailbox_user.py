"""A mailbox user, in real headless Chromium, sets an automatic reply and a forward, sees their
quota and downloads the profile for their phone; then a message to them, through the real
OpenSMTPD, Dovecot and Rspamd of the daemon lab, brings the reply and the forward and keeps a copy."""

import plistlib
import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from accounts import actions
from accounts.models import Forwarding, Vacation
from audit.log import COMMAND_LINE
from domains import actions as domain_actions
from tests.browser.test_admin_and_mailbox_flow import sign_in
from tests.daemons.conftest import apply_now
from tests.daemons.lab import PORTS
from tests.daemons.mailclient import deliver_inbound, dkim_results, fetch, message

# The live server and the lab's apply read the same database: only a transactional test commits.
pytestmark = [pytest.mark.browser, pytest.mark.daemon, pytest.mark.django_db(transaction=True)]

ALICE = "alice mail password"


def test_a_mailbox_user_sets_a_reply_and_a_forward_and_mail_to_them_brings_both(page: Page, live_server, lab, outside):
    domain = domain_actions.create_domain("example.org", actor=COMMAND_LINE)
    actions.create_mailbox(domain, "alice", ALICE, actor=COMMAND_LINE, display_name="Alice", quota_mb=2048)
    key = domain.dkim_keys.get()
    domain_actions.activate_dkim_key(key, actor=COMMAND_LINE, unpublished_ok=True)  # the reply is signed

    sign_in(page, live_server.url, "alice@example.org", ALICE)
    expect(page.get_by_role("heading", name="Mail client settings")).to_be_visible()
    page.get_by_role("link", name="Automatic reply and forwarding").click()

    today = date.today()
    reply = page.locator("section", has=page.get_by_role("heading", name="Automatic reply"))
    reply.get_by_label("Send an automatic reply").check()
    reply.get_by_label("Subject").fill("Away until Monday")
    reply.get_by_label("Reply", exact=True).fill("I am away.\nBack on Monday.")
    reply.get_by_label("From", exact=True).fill((today - timedelta(days=1)).isoformat())  # today, whatever the hour
    reply.get_by_label("Until").fill((today + timedelta(days=7)).isoformat())
    reply.get_by_role("button", name="Save the reply").click()
    expect(page.get_by_text("Saved your automatic reply.")).to_be_visible()

    forwarding = page.locator("section", has=page.get_by_role("heading", name="Forwarding"))
    forwarding.get_by_label("Forward to").fill("alice@example.org")  # to herself: refused on the page
    forwarding.get_by_role("button", name="Save forwarding").click()
    expect(page.get_by_text("comes back to this mailbox")).to_be_visible()
    forwarding = page.locator("section", has=page.get_by_role("heading", name="Forwarding"))
    forwarding.get_by_label("Forward to").fill("alice.at.home@outside.example")
    forwarding.get_by_label("Keep a copy here").check()
    forwarding.get_by_role("button", name="Save forwarding").click()
    expect(page.get_by_text("Saved your forwarding.")).to_be_visible()

    vacation = Vacation.objects.get()
    assert vacation.enabled and vacation.subject == "Away until Monday" and vacation.end == today + timedelta(days=7)
    forward = Forwarding.objects.get()
    assert forward.destinations == ["alice.at.home@outside.example"] and forward.keep_copy

    page.locator(".crumbs").get_by_role("link", name="alice@example.org").click()
    expect(page.get_by_role("heading", name="Mail client settings")).to_be_visible()
    # Not measured yet, unless an earlier test in this lab left mail at the same address.
    card = page.locator("section", has=page.get_by_role("heading", name="Mail client settings"))
    expect(card).to_contain_text(re.compile(r"Storage used\s*(quota 2G, not measured yet|.* of 2G)"))
    with page.expect_download() as download:
        page.get_by_role("link", name="Set up an iPhone, iPad or Mac").click()
    profile = plistlib.loads(open(download.value.path(), "rb").read())["PayloadContent"][0]
    assert profile["EmailAddress"] == "alice@example.org"
    assert profile["IncomingMailServerPortNumber"] == PORTS["imaps"]  # the lab's Dovecot, read below

    apply_now()
    msg = message("reader@outside.example", "alice@example.org")
    deliver_inbound(msg)  # into OpenSMTPD's port 25, as another mail server would

    reply = outside.wait_for("reader@outside.example")
    assert reply.mail_from == ""  # RFC 3834: automatic replies go out with a null sender
    assert b"Subject: Away until Monday" in reply.data and b"Back on Monday." in reply.data
    record = {f"{key.selector}._domainkey.example.org": f"v=DKIM1; k=rsa; p={key.public_key}".encode()}
    assert dkim_results(reply.data, record) == [(f"{key.selector}._domainkey.example.org", True)]

    forwarded = outside.wait_for("alice.at.home@outside.example")
    assert forwarded.mail_from == "alice@example.org"  # so it passes SPF at the receiver
    assert msg["Subject"].encode() in forwarded.data

    # The copy kept, read with the user name and IMAP port the downloaded profile gives.
    assert fetch(lab, profile["IncomingMailServerUsername"], ALICE, msg["Subject"]) is not None

    page.reload()  # the account page again, with the copy in the mailbox: "845B of 2G (0%)"
    expect(card).to_contain_text(re.compile(r"Storage used.*\d[BKM] of 2G \(0%\)"))
    # and the IMAP fetch above is her last login.
    expect(card.locator("dt:text-is('Last IMAP login') + dd")).not_to_have_text("never")
