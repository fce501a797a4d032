"""A mailbox adopted from a host that kept capitals in its paths keeps its home: the users file
names it, Dovecot's default home serves every other mailbox, and nothing else can put a path there."""

import pytest

from accounts import actions
from accounts.models import Mailbox
from adopt.actions import keep_home
from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from core.mailhost import HostConfig
from domains.actions import create_domain
from export.apply import apply_pending
from export.render import render, vet
from export.snapshot import MailboxRow, Snapshot, take_snapshot

HASH = "$y$j9T$FOqg79T.1aaakbQPXOu.H1$56Z60oKeb7Ivn04HUPUTrtofaOGgpVTQ8PqcEchW8FC"
HOST = HostConfig("mail.example.net", __import__("pathlib").Path("/"), vmail_home="/var/vmail")


def users_line(files: dict[str, bytes], address: str) -> list[str]:
    for line in files["dovecot/users"].decode().splitlines():
        if line.startswith(address + ":"):
            return line.split(":")
    raise AssertionError(f"{address} is not in the users file")


def test_a_mailbox_with_its_own_home_names_it_in_the_home_column():
    snapshot = Snapshot(
        domains=("example.org",),
        mailboxes=(
            MailboxRow("alice", "example.org", HASH, 0),
            MailboxRow("carol.jones", "example.org", HASH, 500, home="/var/vmail/Example.org/Carol.Jones"),
        ),
    )
    files = render(snapshot, HOST)
    assert users_line(files, "alice@example.org") == ["alice@example.org", "", "", "", "", "", "", ""]
    assert users_line(files, "carol.jones@example.org") == [
        "carol.jones@example.org",
        *["", "", "", ""],
        "/var/vmail/Example.org/Carol.Jones",
        "",
        "userdb_quota_rule=*",
        "storage=500M",
    ]
    dovecot = files["dovecot/dovecot.conf"].decode()
    # uid and gid stay forced; the home is a default, which the column overrides.
    assert "  override_fields = uid=5000 gid=5000\n" in dovecot
    assert "  default_fields = home=/var/vmail/%Ld/%Ln\n" in dovecot


@pytest.mark.parametrize(
    "home",
    [
        "/etc/shadow-dir",  # outside the vmail root
        "/var/vmail",  # the root itself
        "/var/vmail/../etc",
        "/var/vmail/a/./b",
        "/var/vmail/a//b",
        "/var/vmail/a:b",  # would split the users line
        "/var/vmail/a b",
        "/var/vmail/a\nb",
        "var/vmail/a",
        "/var/vmailx/a",
    ],
)
def test_a_home_the_renderer_cannot_vouch_for_leaves_that_mailbox_out(home):
    snapshot = Snapshot(
        domains=("example.org",),
        mailboxes=(MailboxRow("alice", "example.org", HASH, 0), MailboxRow("bob", "example.org", HASH, 0, home=home)),
    )
    vetted = vet(snapshot, HOST)
    assert [m.address for m in vetted.snapshot.mailboxes] == ["alice@example.org"]
    assert [str(p) for p in vetted.problems] == [
        f"mailbox bob@example.org: has a home {home!r} that is not a plain path below /var/vmail"
    ]


@pytest.fixture
def adopted(db):
    domain = create_domain("example.org", actor=COMMAND_LINE)
    carol = actions.create_mailbox(domain, "carol.jones", "carol's mail password", actor=COMMAND_LINE)
    return carol


def test_keep_home_is_audited_and_read_by_the_snapshot(adopted, settings):
    home = f"{settings.MAIL_HOST.get('vmail_home', '/home/vmail')}/Example.org/Carol.Jones"
    assert keep_home(adopted, home, actor=COMMAND_LINE)
    assert not keep_home(adopted, home, actor=COMMAND_LINE)  # nothing to change: nothing recorded
    entry = AuditEntry.objects.get(action="kept its mail where it is")
    assert entry.changes == {"home": [None, home]} and entry.object_name == "carol.jones@example.org"
    assert [row.home for row in take_snapshot().mailboxes] == [home]


@pytest.mark.django_db(transaction=True)
def test_a_password_change_keeps_the_home_and_a_new_home_renders_everything(sandbox_helper, settings):
    domain = create_domain("example.org", actor=COMMAND_LINE)
    carol = actions.create_mailbox(domain, "carol.jones", "carol's mail password", actor=COMMAND_LINE)
    actions.create_mailbox(domain, "alice", "alice's mail password", actor=COMMAND_LINE)
    vmail = settings.MAIL_HOST.get("vmail_home", "/home/vmail")
    keep_home(carol, f"{vmail}/Example.org/Carol.Jones", actor=COMMAND_LINE)
    assert apply_pending(force=True).ok
    users = sandbox_helper / "etc/mailadmin/current/dovecot/users"
    assert f":{vmail}/Example.org/Carol.Jones:" in users.read_text()

    actions.set_mailbox_password(Mailbox.objects.get(pk=carol.pk), "a new password", actor=COMMAND_LINE)
    generation = apply_pending()
    assert generation.ok and generation.changed == ["dovecot/passwords"]
    assert f":{vmail}/Example.org/Carol.Jones:" in users.read_text()

    keep_home(Mailbox.objects.get(pk=carol.pk), f"{vmail}/Example.org/carol", actor=COMMAND_LINE)
    generation = apply_pending()
    assert generation.ok and "dovecot/users" in generation.changed
    assert f":{vmail}/Example.org/carol:" in users.read_text()
