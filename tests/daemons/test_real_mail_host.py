"""What the panel exports works in the real Dovecot, OpenSMTPD and Rspamd: a mailbox made in the
panel logs in, receives, sends DKIM-signed mail, and stops doing so when disabled."""

import json
import smtplib
import subprocess

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts import actions
from audit.log import COMMAND_LINE
from core.aliasgraph import MAX_DEPTH
from domains import dkim
from domains.actions import create_domain
from domains.models import DkimKey
from export import helper_client
from export.stage import stage
from tests.daemons.conftest import apply_now
from tests.daemons.lab import PORTS
from tests.daemons.mailclient import (
    deliver_inbound,
    dkim_results,
    fetch,
    imap_login,
    message,
    rcpt,
    smtp_auth,
    submit,
)

pytestmark = pytest.mark.daemon
ALICE, BOB = "alice mail password", "bob mail password"


@pytest.fixture
def example(lab):
    """example.org with alice and bob, an alias, a catch-all; other.example with carol; applied."""
    domain = create_domain("example.org", actor=COMMAND_LINE)
    other = create_domain("other.example", actor=COMMAND_LINE)
    actions.create_mailbox(domain, "alice", ALICE, actor=COMMAND_LINE)
    actions.create_mailbox(domain, "bob", BOB, actor=COMMAND_LINE)
    actions.create_mailbox(other, "carol", "carol mail password", actor=COMMAND_LINE)
    actions.create_alias(domain, "team", ["alice@example.org", "bob@example.org"], actor=COMMAND_LINE)
    actions.create_alias(other, "", ["carol@other.example"], actor=COMMAND_LINE)
    create_domain("example.net", actor=COMMAND_LINE, alias_of=domain)
    apply_now()
    return domain


def add_key(domain, selector: str, algorithm: str) -> DkimKey:
    key = dkim.generate(algorithm)
    return DkimKey.objects.create(
        domain=domain,
        selector=selector,
        algorithm=algorithm,
        bits=key.bits,
        state=DkimKey.ACTIVE,
        private_key_encrypted=dkim.encrypt(key.private_export),
        public_key=key.public_key,
    )


def test_imap_login_takes_the_mailbox_password_and_refuses_a_wrong_one(lab, example):
    assert imap_login(lab, "alice@example.org", ALICE)
    assert not imap_login(lab, "alice@example.org", "not the password")
    assert not imap_login(lab, "nobody@example.org", ALICE)


def test_a_self_service_password_change_reaches_dovecot_and_opensmtpd(lab, example):
    client = Client()
    client.post("/login/", {"username": "alice@example.org", "password": ALICE})
    response = client.post(
        "/account/", {"current_password": ALICE, "password1": "a new mail password", "password2": "a new mail password"}
    )
    assert response.status_code == 302
    apply_now()
    assert not imap_login(lab, "alice@example.org", ALICE)
    assert imap_login(lab, "alice@example.org", "a new mail password")
    assert not smtp_auth(lab, "alice@example.org", ALICE)
    assert smtp_auth(lab, "alice@example.org", "a new mail password")


def test_smtp_auth_on_submission_takes_the_mailbox_password(lab, example):
    assert smtp_auth(lab, "alice@example.org", ALICE)
    assert not smtp_auth(lab, "alice@example.org", BOB)


def test_inbound_accepts_known_recipients_and_refuses_the_rest_at_rcpt(lab, example):
    for recipient in [
        "alice@example.org",
        "alice+tag@example.org",
        "team@example.org",
        "alice@example.net",
        "anything@other.example",
        "carol@other.example",
    ]:
        assert rcpt(recipient)[0] == 250, recipient
    for recipient in ["nobody@example.org", "nobody@example.net", "someone@unknown.example"]:
        code, text = rcpt(recipient)
        assert 500 <= code < 600, (recipient, code, text)


def test_submitted_mail_is_dkim_signed_delivered_by_lmtp_and_fetched_over_imap(lab, example, tmp_path):
    rsa_key = add_key(example, "rsa2026", "rsa")
    ed_key = add_key(example, "ed2026", "ed25519")
    apply_now()
    msg = message("alice@example.org", "bob@example.org")
    submit(lab, "alice@example.org", ALICE, msg)
    raw = fetch(lab, "bob@example.org", BOB, msg["Subject"])
    assert raw is not None, "not delivered"
    records = {
        "rsa2026._domainkey.example.org": f"v=DKIM1; k=rsa; p={rsa_key.public_key}".encode(),
        "ed2026._domainkey.example.org": f"v=DKIM1; k=ed25519; p={ed_key.public_key}".encode(),
    }
    assert sorted(dkim_results(raw, records)) == [
        ("ed2026._domainkey.example.org", True),
        ("rsa2026._domainkey.example.org", True),
    ]


def test_mail_without_a_key_leaves_unsigned_and_smtps_works_too(lab, example):
    msg = message("alice@example.org", "bob@example.org")
    submit(lab, "alice@example.org", ALICE, msg, port="smtps")
    raw = fetch(lab, "bob@example.org", BOB, msg["Subject"])
    assert raw is not None and b"DKIM-Signature" not in raw


def test_alias_catch_all_and_alias_domain_mail_reaches_its_targets(lab, example):
    team = message("someone@elsewhere.example", "team@example.org")
    deliver_inbound(team)
    assert fetch(lab, "alice@example.org", ALICE, team["Subject"])
    assert fetch(lab, "bob@example.org", BOB, team["Subject"])
    stray = message("someone@elsewhere.example", "whoever@other.example")
    deliver_inbound(stray)
    assert fetch(lab, "carol@other.example", "carol mail password", stray["Subject"])
    twin = message("someone@elsewhere.example", "alice@example.net")
    deliver_inbound(twin)
    assert fetch(lab, "alice@example.org", ALICE, twin["Subject"])


def test_an_authenticated_user_cannot_send_as_someone_else(lab, example):
    with pytest.raises(smtplib.SMTPSenderRefused):
        submit(lab, "alice@example.org", ALICE, message("carol@other.example", "bob@example.org"))
    # The aliases that deliver to alice are hers to send as.
    msg = message("team@example.org", "bob@example.org")
    submit(lab, "alice@example.org", ALICE, msg)
    assert fetch(lab, "bob@example.org", BOB, msg["Subject"])


def test_disabling_a_mailbox_stops_its_login_and_its_delivery(lab, example):
    bob = example.mailboxes.get(local_part="bob")
    actions.update_mailbox(bob, actor=COMMAND_LINE, active=False)
    apply_now()
    assert not imap_login(lab, "bob@example.org", BOB)
    assert not smtp_auth(lab, "bob@example.org", BOB)
    assert rcpt("bob@example.org")[0] >= 500


def test_a_username_with_a_pipe_does_not_take_smtpd_down(lab, example):
    assert not smtp_auth(lab, "x|y@example.org", "whatever")
    assert smtp_auth(lab, "alice@example.org", ALICE)
    assert rcpt("alice@example.org")[0] == 250


def test_a_configuration_a_checker_rejects_leaves_the_previous_generation_live(lab, example):
    current = (lab.root / "etc/mailadmin/current").resolve()
    staged = stage(
        999_999,
        {rel: path.read_bytes() for rel, path in _installed_files(current).items()}
        | {"smtpd/smtpd.conf": b"this is not a configuration\n"},
    )
    answer = helper_client.call({"op": "apply", "generation": 999_999})
    assert not answer["ok"] and "smtpd rejected the new configuration" in answer["error"], answer
    assert (lab.root / "etc/mailadmin/current").resolve() == current
    assert imap_login(lab, "alice@example.org", ALICE)
    assert smtp_auth(lab, "alice@example.org", ALICE)
    assert rcpt("alice@example.org")[0] == 250
    assert json.loads((staged / "manifest.json").read_text())["generation"] == 999_999


def _installed_files(directory):
    return {str(p.relative_to(directory)): p for p in directory.rglob("*") if p.is_file() and p.name != "GENERATION"}


def test_the_helper_installs_files_with_the_owners_and_modes_the_daemons_need(lab, example):
    add_key(example, "rsa2026", "rsa")
    apply_now()
    current = lab.root / "etc/mailadmin/current"
    expected = {
        "dovecot/users": ("root", "dovecot", "640"),
        "dovecot/passwords": ("root", "dovecot", "640"),
        "dovecot/app-passwords-1": ("root", "dovecot", "640"),
        "smtpd/virtuals": ("root", "opensmtpd", "640"),
        "rspamd/dkim/example.org.rsa2026.key": ("root", "_rspamd", "640"),
        "smtpd/smtpd.conf": ("root", "root", "600"),
    }
    for rel, (owner, group, mode) in expected.items():
        out = subprocess.run(
            ["stat", "-c", "%U %G %a", str(current / rel)], capture_output=True, text=True
        ).stdout.split()
        assert out == [owner, group, mode], rel
    assert (lab.root / "etc/smtpd.conf").resolve() == (current / "smtpd/smtpd.conf").resolve()
    pam = subprocess.run(["stat", "-c", "%U %G %a", str(lab.root / "etc/pam.d/smtpd")], capture_output=True, text=True)
    assert pam.stdout.split() == ["root", "root", "644"]
    assert PORTS["imaps"]


def test_the_longest_alias_chain_the_panel_accepts_is_one_opensmtpd_delivers(example):
    """OpenSMTPD refuses a recipient whose expansion reaches EXPAND_DEPTH (measured: 8 aliases
    before a mailbox pass, 9 get "524 5.2.4 Mailing list expansion problem"). example.net, an
    alias domain of example.org, adds one level: its twin of the last hop is the deepest address."""
    previous = "alice@example.org"
    for n in range(MAX_DEPTH - 2):
        actions.create_alias(example, f"hop{n}", [previous], actor=COMMAND_LINE)
        previous = f"hop{n}@example.org"
    with pytest.raises(ValidationError, match="example.net would expand 10 levels deep"):
        actions.create_alias(example, "onemore", [previous], actor=COMMAND_LINE)
    apply_now()
    assert rcpt(previous.replace("example.org", "example.net"))[0] == 250
    assert rcpt("onemore@example.org")[0] >= 500  # never stored, so unknown


def test_postmaster_of_every_domain_reaches_the_hosts_postmaster(lab, example):
    assert rcpt("postmaster@example.org")[0] >= 500  # none set yet: refused, as before
    actions.set_postmaster("bob@example.org", actor=COMMAND_LINE)
    apply_now()
    msg = message("reporter@elsewhere.example", "postmaster@other.example")
    deliver_inbound(msg)
    assert fetch(lab, "bob@example.org", BOB, msg["Subject"]) is not None
    assert rcpt("abuse@example.net")[0] == 250
