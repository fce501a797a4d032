"""Quota with the real daemons: a full mailbox bounces at once with a reason the sender can read,
a lowered quota takes effect and a raised one lets mail in again; usage and the last IMAP login
reach the panel from Dovecot's own files, the helper seeds the usage of untouched mailboxes, and
mail the daemons cannot deliver shows on the domain page."""

import subprocess
import time
import uuid

import pytest
from django.utils.html import escape

from accounts import actions
from accounts.models import Mailbox, QueuedMail, User
from accounts.usage import sync_usage
from audit.log import COMMAND_LINE
from domains import actions as domain_actions
from export import usage as usage_round
from tests.daemons.conftest import apply_now
from tests.daemons.mailclient import deliver_inbound, fetch, imap_login, message
from tests.helpers import client_for, mailbox_client

pytestmark = pytest.mark.daemon
ALICE, BOB = "alice mail password", "bob mail password"


@pytest.fixture
def example(lab):
    # A domain of its own: the lab's mail store outlives each test, and full mailboxes must not linger.
    name = f"q{uuid.uuid4().hex[:10]}.example"
    domain = domain_actions.create_domain(name, actor=COMMAND_LINE)
    alice = actions.create_mailbox(domain, "alice", ALICE, actor=COMMAND_LINE, quota_mb=1)
    bob = actions.create_mailbox(domain, "bob", BOB, actor=COMMAND_LINE, quota_mb=1)
    apply_now()
    return {"domain": domain, "alice": alice, "bob": bob, "name": name}


def sized(recipient: str, size: int, sender: str = "friend@outside.example"):
    msg = message(sender, recipient)
    msg.set_content("x" * size)
    return msg


def bounce_to(outside, sender: str, timeout: float = 30):
    relayed = outside.wait_for(sender, timeout=timeout)
    assert relayed.mail_from == "", "a bounce goes out with a null sender"
    return relayed


def test_a_full_mailbox_bounces_at_once_and_says_why(lab, example, outside):
    started = time.monotonic()
    deliver_inbound(sized(example["alice"].ascii_address, 1_500_000))  # over her 1M quota
    bounce = bounce_to(outside, "friend@outside.example")
    assert time.monotonic() - started < 60  # not after 4 days in the queue, as mail.lmtp alone does
    assert b"552 5.2.2" in bounce.data and b"Quota exceeded (mailbox for user is full)" in bounce.data
    assert lab.smtpctl("show", "queue").stdout.strip() == ""  # nothing left waiting


def test_a_lowered_quota_refuses_new_mail_and_a_raised_one_lets_it_in(lab, example, outside):
    alice = example["alice"]
    actions.update_mailbox(alice, actor=COMMAND_LINE, quota_mb=10)
    apply_now()
    first = sized(example["alice"].ascii_address, 1_500_000)
    deliver_inbound(first)
    assert fetch(lab, example["alice"].ascii_address, ALICE, first["Subject"]) is not None

    actions.update_mailbox(alice, actor=COMMAND_LINE, quota_mb=1)  # below what she uses: allowed
    apply_now()
    refused = message("late@outside.example", example["alice"].ascii_address)
    deliver_inbound(refused)
    assert b"mailbox for user is full" in bounce_to(outside, "late@outside.example").data
    sync_usage()
    alice.refresh_from_db()
    assert alice.fill_permille >= 1000

    actions.update_mailbox(alice, actor=COMMAND_LINE, quota_mb=10)
    apply_now()
    welcome = message("later@outside.example", example["alice"].ascii_address)
    deliver_inbound(welcome)
    assert fetch(lab, example["alice"].ascii_address, ALICE, welcome["Subject"]) is not None


def test_usage_and_last_login_come_from_dovecots_files(lab, example):
    alice, bob = example["alice"], example["bob"]
    assert (alice.used_bytes, alice.last_login_at) == (None, None)  # nothing measured yet
    msg = sized(example["alice"].ascii_address, 300_000)
    deliver_inbound(msg)
    assert fetch(lab, example["alice"].ascii_address, ALICE, msg["Subject"]) is not None  # also an IMAP login
    # Dovecot wrote her file as the mail user, readable by the directory's group (the panel's):
    # a process with only that group reads it; the panel never needs root or doveadm for this.
    quota_file = lab.usage / example["name"] / "alice.quota"
    as_panel = subprocess.run(["cat", str(quota_file)], user=12345, group=0, extra_groups=[], capture_output=True)
    assert as_panel.returncode == 0 and b"priv/quota/storage" in as_panel.stdout
    updated, since = sync_usage()
    alice.refresh_from_db()
    assert updated >= 1 and alice.used_messages == 1 and 300_000 < alice.used_bytes < 330_000
    assert alice.fill_permille == alice.used_bytes * 1000 // 1024**2 and alice.last_login_at is not None

    # Only what changed since the last round is read again, and it is.
    second = sized(example["alice"].ascii_address, 400_000)
    deliver_inbound(second)
    assert fetch(lab, example["alice"].ascii_address, ALICE, second["Subject"]) is not None
    time.sleep(0.1)
    updated, _ = sync_usage(since)
    alice.refresh_from_db()
    assert updated == 1 and alice.used_messages == 2 and alice.fill_permille > 650

    # Bob has no mail and no file: the helper measures him with doveadm (as root), and writes
    # the file as the mail user, so Dovecot keeps it current from then on.
    assert not (lab.usage / example["name"] / "bob.quota").exists()
    assert usage_round.measure_unknown() == 1
    stat = (lab.usage / example["name"] / "bob.quota").stat()
    assert stat.st_uid == 65534  # the lab's mail user
    sync_usage()
    bob.refresh_from_db()
    assert (bob.used_bytes, bob.used_messages, bob.fill_permille, bob.last_login_at) == (0, 0, 0, None)
    assert imap_login(lab, example["bob"].ascii_address, BOB)
    sync_usage()
    bob.refresh_from_db()
    assert bob.last_login_at is not None

    # The admin sees the fullest first, with the last login; alice sees her own meter.
    admin = client_for(User.objects.create_superuser("admin", password="x"))
    page = admin.get(f"/domains/{example['name']}/?msort=fullest").content.decode()
    assert page.index("alice@") < page.index("bob@")
    assert "of 1M (" in page and "never" not in page.split("bob@")[1].split("</tr>")[0]
    third = sized(example["alice"].ascii_address, 220_000)
    deliver_inbound(third)
    assert fetch(lab, example["alice"].ascii_address, ALICE, third["Subject"]) is not None
    mine = mailbox_client(example["alice"].ascii_address, ALICE).get("/account/").content.decode()
    assert "of 1M (9" in mine and "% full. When it is full, new mail to you is refused" in mine  # warned at 90%


def test_mail_the_daemons_cannot_deliver_shows_on_the_domain_page(lab, example):
    lab.stop("dovecot")  # LMTP is down: smtpd keeps the mail and retries
    try:
        msg = message("friend@outside.example", example["bob"].ascii_address)
        deliver_inbound(msg)
        deadline = time.monotonic() + 30
        while not QueuedMail.objects.exists() and time.monotonic() < deadline:
            usage_round.refresh(time.time())
            time.sleep(0.5)
        queued = QueuedMail.objects.get()
        assert queued.mailbox == Mailbox.objects.get(local_part="bob") and queued.sender == "friend@outside.example"
        assert queued.error  # why it waits, as smtpd says it
        page = (
            client_for(User.objects.create_superuser("admin", password="x"))
            .get(f"/domains/{example['name']}/")
            .content.decode()
        )
        assert "Mail is waiting to be delivered" in page and escape(queued.error) in page
    finally:
        lab.start("dovecot")
    lab.smtpctl("schedule", "all")
    assert fetch(lab, example["bob"].ascii_address, BOB, msg["Subject"], timeout=30) is not None
    usage_round.refresh(time.time())
    assert not QueuedMail.objects.exists()
