"""Aliases that forward to other hosts, through the real OpenSMTPD: the forward leaves with an
SRS sender of our domain (so it passes SPF at the receiver), a mixed alias keeps its local
copy, a bounce to the SRS address goes back to the original sender, a forged one is refused,
and nobody may relay through port 25 without signing in."""

import re
import smtplib

import pytest

from accounts import actions
from audit.log import COMMAND_LINE
from domains.actions import create_domain
from tests.daemons.conftest import apply_now
from tests.daemons.lab import PORTS
from tests.daemons.mailclient import deliver_inbound, fetch, message, rcpt

pytestmark = pytest.mark.daemon
ALICE = "alice mail password"
SRS = re.compile(r"SRS0=[^=]+=[^=]+=origin\.example=sender@example\.org")


@pytest.fixture
def forwards(lab):
    domain = create_domain("example.org", actor=COMMAND_LINE)
    actions.create_mailbox(domain, "alice", ALICE, actor=COMMAND_LINE)
    actions.create_alias(domain, "fwd", ["someone@outside.example"], actor=COMMAND_LINE)
    actions.create_alias(domain, "mixed", ["alice@example.org", "friend@outside.example"], actor=COMMAND_LINE)
    apply_now()
    return domain


def bounce(recipient: str) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", PORTS["smtp"], timeout=30) as smtp:
        smtp.ehlo("mx.outside.example")
        smtp.mail("<>")
        code, answer = smtp.rcpt(recipient)
        if code == 250:
            smtp.data(b"Subject: delivery failed\r\n\r\nYour message could not be delivered.\r\n")
        return code, answer.decode()


def test_an_alias_to_an_outside_address_relays_with_an_srs_sender_of_our_domain(forwards, outside):
    deliver_inbound(message("sender@origin.example", "fwd@example.org"))
    relayed = outside.wait_for("someone@outside.example")
    assert SRS.fullmatch(relayed.mail_from), relayed.mail_from


def test_a_mixed_alias_keeps_its_local_copy_and_forwards_the_other(lab, forwards, outside):
    msg = message("sender@origin.example", "mixed@example.org")
    deliver_inbound(msg)
    assert SRS.fullmatch(outside.wait_for("friend@outside.example").mail_from)
    assert fetch(lab, "alice@example.org", ALICE, msg["Subject"]) is not None


def test_a_bounce_to_the_srs_address_reaches_the_original_sender_and_a_forged_one_is_refused(forwards, outside):
    deliver_inbound(message("sender@origin.example", "fwd@example.org"))
    srs_sender = outside.wait_for("someone@outside.example").mail_from
    assert bounce(srs_sender)[0] == 250
    assert outside.wait_for("sender@origin.example").mail_from == ""
    hash_part = srs_sender.split("=")[1]
    forged = srs_sender.replace(f"={hash_part}=", "=AAAA=", 1)
    assert bounce(forged)[0] >= 500


def test_nobody_relays_through_port_25_without_signing_in(forwards, outside):
    assert rcpt("someone@outside.example", sender="alice@example.org")[0] >= 500
    assert rcpt("someone@outside.example", sender="anyone@elsewhere.example")[0] >= 500
