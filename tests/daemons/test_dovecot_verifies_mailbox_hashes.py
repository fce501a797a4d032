"""The real Dovecot accepts the hashes the panel stores, as the users file will carry them."""

import shutil
import subprocess

import pytest

from accounts import mailpasswords
from accounts.actions import create_mailbox
from audit.log import COMMAND_LINE

pytestmark = pytest.mark.daemon


@pytest.fixture(scope="module")
def doveadm() -> str:
    path = shutil.which("doveadm") or "/usr/bin/doveadm"
    assert shutil.which(path), "doveadm is missing: install Debian's dovecot-core (scripts/test does)"
    return path


def dovecot_verifies(doveadm: str, stored_hash: str, password: str) -> bool:
    result = subprocess.run(
        [doveadm, "pw", "-t", "{CRYPT}" + stored_hash, "-p", password], capture_output=True, text=True, timeout=30
    )
    if result.returncode == 0:
        assert "(verified)" in result.stdout
        return True
    assert "Password mismatch" in result.stderr, result.stderr
    return False


def test_dovecot_accepts_the_password_of_a_mailbox_made_in_the_panel(doveadm, domain):
    mailbox = create_mailbox(domain, "alice", "a long mail password", actor=COMMAND_LINE)
    assert mailbox.password_hash.startswith("$y$")
    assert dovecot_verifies(doveadm, mailbox.password_hash, "a long mail password")


def test_dovecot_refuses_a_wrong_password(doveadm):
    stored = mailpasswords.make_hash("a long mail password")
    assert not dovecot_verifies(doveadm, stored, "a long mail passwore")
    assert not dovecot_verifies(doveadm, stored, "")


def test_dovecot_and_the_panel_agree_on_unicode_passwords(doveadm):
    stored = mailpasswords.make_hash("pässwörd mit ümläuten ✓")
    assert mailpasswords.check_hash("pässwörd mit ümläuten ✓", stored)
    assert dovecot_verifies(doveadm, stored, "pässwörd mit ümläuten ✓")
