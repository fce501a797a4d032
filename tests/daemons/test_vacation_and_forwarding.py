"""Vacation replies and forwarding, set by the mailbox user, through the real Dovecot (Pigeonhole
Sieve at LMTP delivery), OpenSMTPD (out through its local socket) and Rspamd (which signs)."""

import time
from datetime import date, timedelta

import pytest

from accounts import actions
from audit.log import COMMAND_LINE
from domains import actions as domain_actions
from tests.daemons.conftest import apply_now
from tests.daemons.mailclient import deliver_inbound, dkim_results, fetch, message, submit

pytestmark = pytest.mark.daemon
ALICE, BOB = "alice mail password", "bob mail password"


@pytest.fixture
def example(lab):
    domain = domain_actions.create_domain("example.org", actor=COMMAND_LINE)
    alice = actions.create_mailbox(domain, "alice", ALICE, actor=COMMAND_LINE)
    bob = actions.create_mailbox(domain, "bob", BOB, actor=COMMAND_LINE)
    actions.create_alias(domain, "sales", ["alice@example.org"], actor=COMMAND_LINE)
    key = domain.dkim_keys.get()
    domain_actions.activate_dkim_key(key, actor=COMMAND_LINE, unpublished_ok=True)  # the test reads its record
    apply_now()
    return {"alice": alice, "bob": bob, "key": key}


def record_of(key) -> dict[str, bytes]:
    return {f"{key.selector}._domainkey.example.org": f"v=DKIM1; k=rsa; p={key.public_key}".encode()}


def replies_to(outside, sender: str) -> list:
    return [m for m in outside.messages if sender in m.rcpt_to and m.mail_from == ""]


def delivered(lab, msg) -> None:
    deliver_inbound(msg)
    assert fetch(lab, "alice@example.org", ALICE, msg["Subject"]) is not None


def test_one_signed_reply_per_sender_and_none_to_lists_automatic_mail_or_after_the_end(lab, example, outside):
    actions.set_vacation(
        example["alice"],
        actor=COMMAND_LINE,
        enabled=True,
        subject="Away until Monday",
        body="I am away.\n.A line that starts with a dot stays one.\nBack on Monday.",
        days=7,
    )
    apply_now()
    delivered(lab, message("friend@outside.example", "alice@example.org"))
    reply = outside.wait_for("friend@outside.example")
    assert reply.mail_from == ""  # RFC 3834: replies go out with a null sender
    assert b"Subject: Away until Monday" in reply.data and b".A line that starts with a dot" in reply.data
    assert dkim_results(reply.data, record_of(example["key"])) == [
        (f"{example['key'].selector}._domainkey.example.org", True)
    ]

    delivered(lab, message("friend@outside.example", "sales@example.org"))  # again, through an alias
    listed = message("list@outside.example", "alice@example.org")
    listed["List-Id"] = "<news.outside.example>"
    delivered(lab, listed)
    automatic = message("robot@outside.example", "alice@example.org")
    automatic["Auto-Submitted"] = "auto-generated"
    delivered(lab, automatic)
    time.sleep(3)  # replies leave within a second or two: give them the chance to appear
    assert len(replies_to(outside, "friend@outside.example")) == 1
    assert not replies_to(outside, "list@outside.example") and not replies_to(outside, "robot@outside.example")

    yesterday = date.today() - timedelta(days=1)
    actions.set_vacation(
        example["alice"],
        actor=COMMAND_LINE,
        enabled=True,
        subject="Away",
        body="Away.",
        start=yesterday - timedelta(days=7),
        end=yesterday,
    )
    apply_now()
    delivered(lab, message("late@outside.example", "alice@example.org"))
    time.sleep(3)
    assert not replies_to(outside, "late@outside.example")


def test_a_forward_leaves_with_our_envelope_sender_and_its_signature_intact(lab, example, outside):
    actions.set_forwarding(example["bob"], actor=COMMAND_LINE, destinations=["carol@outside.example"], keep_copy=True)
    apply_now()
    signed = message("alice@example.org", "bob@example.org")
    submit(lab, "alice@example.org", ALICE, signed)  # signed by Rspamd on the way in
    forwarded = outside.wait_for("carol@outside.example")
    assert forwarded.mail_from == "bob@example.org"
    signatures = dkim_results(forwarded.data, record_of(example["key"]))
    assert signatures and all(valid for _, valid in signatures), signatures  # alice's, intact (and Rspamd's)
    assert fetch(lab, "bob@example.org", BOB, signed["Subject"]) is not None  # the copy kept

    actions.set_forwarding(example["bob"], actor=COMMAND_LINE, destinations=["dave@outside.example"], keep_copy=False)
    apply_now()
    moved = message("someone@outside.example", "bob@example.org")
    deliver_inbound(moved)
    outside.wait_for("dave@outside.example")
    assert fetch(lab, "bob@example.org", BOB, moved["Subject"], timeout=3) is None  # no copy kept


def test_forwarding_in_a_circle_is_refused(example):
    actions.set_forwarding(example["bob"], actor=COMMAND_LINE, destinations=["sales@example.org"], keep_copy=True)
    with pytest.raises(Exception, match="comes back to this mailbox"):
        actions.set_forwarding(example["alice"], actor=COMMAND_LINE, destinations=["bob@example.org"], keep_copy=True)
