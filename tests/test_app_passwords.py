"""App passwords as a mailbox user makes them in the panel: shown once, stored as a hash,
named, at most one per slot, revocable, and the "only app passwords" switch with its guards
(the daemons honouring them: tests/daemons/test_app_passwords.py)."""

import re

import pytest
from django.core.exceptions import ValidationError

from accounts import actions, mailpasswords
from accounts.models import AppPassword
from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from domains.actions import create_domain
from tests.helpers import MAIL_PASSWORD, mailbox_client

pytestmark = pytest.mark.django_db
SHOWN = re.compile(r'<code class="secret">([a-z2-9]{4}(?:-[a-z2-9]{4}){3})</code>')


def test_a_new_app_password_is_shown_once_and_kept_only_as_a_hash(mailbox):
    client = mailbox_client("alice@example.org")
    response = client.post("/account/app-passwords/", {"name": "  my   phone "})
    assert "no-cache" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    text = SHOWN.search(response.content.decode()).group(1)
    stored = AppPassword.objects.get()
    assert stored.name == "my phone" and stored.slot == 1 and text not in stored.password_hash
    assert mailpasswords.check_hash(text, stored.password_hash)
    again = client.get("/account/app-passwords/").content.decode()
    assert "my phone" in again and text not in again  # never shown again
    entry = AuditEntry.objects.get(object_type="app password")
    assert entry.action == "created" and text not in str(entry.__dict__)


def test_slots_are_taken_lowest_first_and_freed_by_revoking(mailbox):
    made = [actions.create_app_password(mailbox, f"device {n}", actor=COMMAND_LINE)[0] for n in range(10)]
    assert [m.slot for m in made] == list(range(1, 11))
    with pytest.raises(ValidationError, match="10 app passwords, the most there can be"):
        actions.create_app_password(mailbox, "one more", actor=COMMAND_LINE)
    actions.revoke_app_password(made[3], actor=COMMAND_LINE)
    assert actions.create_app_password(mailbox, "one more", actor=COMMAND_LINE)[0].slot == 4


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "Give it a name"),
        ("   ", "Give it a name"),
        ("x" * 41, "Give it a name"),
        ("phone\x00", "Give it a name"),
        ("line\nbreak", None),  # whitespace folds to one space: "line break"
        ("<script>alert(1)</script>", None),  # kept as text, escaped on the page
        ("phone", "already have an app password named"),
    ],
)
def test_names_are_checked(mailbox, name, error):
    actions.create_app_password(mailbox, "phone", actor=COMMAND_LINE)
    if error:
        with pytest.raises(ValidationError, match=error):
            actions.create_app_password(mailbox, name, actor=COMMAND_LINE)
    else:
        actions.create_app_password(mailbox, name, actor=COMMAND_LINE)


def test_a_hostile_name_shows_as_text(mailbox):
    client = mailbox_client("alice@example.org")
    client.post("/account/app-passwords/", {"name": "<script>alert(1)</script>"})
    page = client.get("/account/app-passwords/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_only_app_passwords_needs_one_and_keeps_the_last_one(mailbox):
    with pytest.raises(ValidationError, match="Make an app password first"):
        actions.set_app_passwords_only(mailbox, True, actor=COMMAND_LINE)
    phone, _ = actions.create_app_password(mailbox, "phone", actor=COMMAND_LINE)
    actions.set_app_passwords_only(mailbox, True, actor=COMMAND_LINE)
    with pytest.raises(ValidationError, match="This is your last app password"):
        actions.revoke_app_password(phone, actor=COMMAND_LINE)
    client = mailbox_client("alice@example.org")  # the panel still takes her own password
    page = client.get("/account/").content.decode()
    assert "mail apps may use only these" in page


def test_the_switch_and_revoking_through_the_page(mailbox):
    client = mailbox_client("alice@example.org")
    page = client.post("/account/app-passwords/only/", {"only": "on"}, follow=True).content.decode()
    assert "Make an app password first" in page
    client.post("/account/app-passwords/", {"name": "phone"})
    page = client.post("/account/app-passwords/only/", {"only": "on"}, follow=True).content.decode()
    assert "Mail apps may now use only app passwords" in page
    phone = AppPassword.objects.get()
    page = client.post(f"/account/app-passwords/{phone.pk}/revoke/", follow=True).content.decode()
    assert "This is your last app password" in page and AppPassword.objects.exists()
    client.post("/account/app-passwords/only/", {})
    page = client.post(f"/account/app-passwords/{phone.pk}/revoke/", follow=True).content.decode()
    assert "Revoked “phone”" in page and not AppPassword.objects.exists()


def test_nobody_revokes_another_mailboxs_app_password(mailbox):
    other = actions.create_mailbox(
        create_domain("other.example", actor=COMMAND_LINE), "eve", MAIL_PASSWORD, actor=COMMAND_LINE
    )
    theirs, _ = actions.create_app_password(other, "phone", actor=COMMAND_LINE)
    client = mailbox_client("alice@example.org")
    assert client.post(f"/account/app-passwords/{theirs.pk}/revoke/").status_code == 404
    assert AppPassword.objects.filter(pk=theirs.pk).exists()


def test_app_passwords_are_not_panel_passwords(mailbox):
    _, text = actions.create_app_password(mailbox, "phone", actor=COMMAND_LINE)
    response = mailbox_client.__wrapped__ if hasattr(mailbox_client, "__wrapped__") else None
    from django.test import Client

    response = Client().post("/login/", {"username": "alice@example.org", "password": text})
    assert response.status_code == 200 and "name or password is wrong" in response.content.decode()


def test_a_profile_can_carry_a_new_app_password_so_the_device_asks_nothing(mailbox):
    import plistlib

    response = mailbox_client("alice@example.org").post("/account/app-passwords/profile/")
    assert response["Content-Type"] == "application/x-apple-aspen-config" and "no-store" in response["Cache-Control"]
    account = plistlib.loads(response.content)["PayloadContent"][0]
    made = AppPassword.objects.get()
    assert made.name.startswith("Apple profile ")
    assert mailpasswords.check_hash(account["IncomingPassword"], made.password_hash)
    assert account["OutgoingPasswordSameAsIncomingPassword"] is True


@pytest.mark.parametrize(
    "name", ["\x00", "a\x00b", "\U0010ffff", "x" * 10_000, "\x1b[31mred", "‮evil", "'; DROP TABLE x;--", ""]
)
def test_hostile_names_through_the_form_are_refused_or_kept_as_text(mailbox, name):
    client = mailbox_client("alice@example.org")
    response = client.post("/account/app-passwords/", {"name": name})
    assert response.status_code == 200
    for made in AppPassword.objects.all():
        assert made.name == " ".join(name.split()) and not re.search(r"[\x00-\x1f\x7f\u202e]", made.name)
    if not SHOWN.search(response.content.decode()):
        assert not AppPassword.objects.exists()
