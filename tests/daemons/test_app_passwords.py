"""App passwords with the real daemons: each one signs in to IMAP (Dovecot's passdbs in turn)
and SMTP (OpenSMTPD through PAM) with the mailbox's own address as user name; "app passwords
only" makes both refuse the mailbox's password while the panel still takes it; a revoked one is
refused after one apply; mail sent with one is DKIM-signed and the sender check still holds."""

import smtplib

import pytest

from accounts import actions
from audit.log import COMMAND_LINE
from domains import actions as domain_actions
from tests.daemons.conftest import apply_now
from tests.daemons.mailclient import dkim_results, imap_login, message, smtp_auth, submit
from tests.helpers import mailbox_client

pytestmark = pytest.mark.daemon
ALICE = "alice mail password"


@pytest.fixture
def alice(lab):
    domain = domain_actions.create_domain("apps.example", actor=COMMAND_LINE)
    alice = actions.create_mailbox(domain, "alice", ALICE, actor=COMMAND_LINE)
    actions.create_mailbox(domain, "bob", "bob mail password", actor=COMMAND_LINE)
    key = domain.dkim_keys.get()
    domain_actions.activate_dkim_key(key, actor=COMMAND_LINE, unpublished_ok=True)
    apply_now()
    return alice


def signs_in(lab, password: str, user: str = "alice@apps.example") -> tuple[bool, bool]:
    return imap_login(lab, user, password), smtp_auth(lab, user, password)


def test_each_app_password_signs_in_with_the_mailbox_address(lab, alice, outside):
    _, phone = actions.create_app_password(alice, "phone", actor=COMMAND_LINE)
    _, laptop = actions.create_app_password(alice, "laptop", actor=COMMAND_LINE)
    apply_now()
    assert signs_in(lab, phone) == (True, True)
    assert signs_in(lab, laptop) == (True, True)
    assert signs_in(lab, ALICE) == (True, True)  # her own password too, until she says otherwise
    assert signs_in(lab, "wrong-guess-wrong-guess") == (False, False)
    assert signs_in(lab, phone, user="bob@apps.example") == (False, False)  # hers, not bob's

    # Mail sent with an app password is signed, and she may still send only as herself.
    msg = message("alice@apps.example", "friend@outside.example")
    submit(lab, "alice@apps.example", phone, msg)
    key = alice.domain.dkim_keys.get()
    record = {f"{key.selector}._domainkey.apps.example": f"v=DKIM1; k=rsa; p={key.public_key}".encode()}
    assert dkim_results(outside.wait_for("friend@outside.example").data, record) == [
        (f"{key.selector}._domainkey.apps.example", True)
    ]
    with pytest.raises(smtplib.SMTPSenderRefused):
        submit(lab, "alice@apps.example", phone, message("bob@apps.example", "friend@outside.example"))


def test_app_passwords_only_refuses_her_own_password_for_mail_but_not_for_the_panel(lab, alice):
    _, phone = actions.create_app_password(alice, "phone", actor=COMMAND_LINE)
    actions.set_app_passwords_only(alice, True, actor=COMMAND_LINE)
    apply_now()
    assert signs_in(lab, ALICE) == (False, False)
    assert signs_in(lab, phone) == (True, True)
    assert mailbox_client("alice@apps.example", ALICE).get("/account/").status_code == 200

    actions.set_app_passwords_only(alice, False, actor=COMMAND_LINE)
    apply_now()
    assert signs_in(lab, ALICE) == (True, True)


def test_a_revoked_app_password_is_refused_after_one_apply(lab, alice):
    phone_row, phone = actions.create_app_password(alice, "phone", actor=COMMAND_LINE)
    _, laptop = actions.create_app_password(alice, "laptop", actor=COMMAND_LINE)
    apply_now()
    assert signs_in(lab, phone) == (True, True)
    actions.revoke_app_password(phone_row, actor=COMMAND_LINE)
    apply_now()
    assert signs_in(lab, phone) == (False, False)
    assert signs_in(lab, laptop) == (True, True)
    # Its slot is free again: a new one takes it, and only the new text works there.
    _, tablet = actions.create_app_password(alice, "tablet", actor=COMMAND_LINE)
    apply_now()
    assert signs_in(lab, tablet) == (True, True) and signs_in(lab, phone) == (False, False)


def test_pam_lets_no_system_account_through(lab, alice):
    # Without pam_deny at the end, PAM would fall back to Debian's "other" service.
    assert not smtp_auth(lab, "root", "")
    assert not smtp_auth(lab, "nobody", "x")
    assert smtp_auth(lab, "alice@apps.example", ALICE)
