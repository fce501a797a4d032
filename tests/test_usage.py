"""Mailbox usage and last login as the panel reads them from Dovecot's files, what it shows, and
the helper's two read-only requests (the daemons themselves: tests/daemons/test_quota_and_usage.py)."""

import os
import sys
import time

import pytest

from accounts import actions
from accounts.models import Mailbox, QueuedMail
from accounts.usage import read_usage, sync_queue, sync_usage
from audit.log import COMMAND_LINE
from domains.actions import create_domain
from helper.helper import Helper, Refused
from tests.helpers import mailbox_client

pytestmark = pytest.mark.django_db
PASSWORD = "a good mail password"


@pytest.fixture
def usage_dir(tmp_path, settings):
    settings.MAIL_HOST = {**settings.MAIL_HOST, "usage_dir": str(tmp_path / "usage")}
    (tmp_path / "usage").mkdir()
    return tmp_path / "usage"


@pytest.fixture
def mailboxes():
    domain = create_domain("example.org", actor=COMMAND_LINE)
    return {
        local: actions.create_mailbox(domain, local, PASSWORD, actor=COMMAND_LINE, quota_mb=quota)
        for local, quota in [("alice", 100), ("bob", 100), ("carol", 0), ("dave", 100)]
    }


def dovecot_writes(usage_dir, address: str, used: int | None = None, messages: int = 1, login: int | None = None):
    """Files as Dovecot's quota_clone and last_login plugins write them (file dicts)."""
    local, domain = address.split("@")
    (usage_dir / domain).mkdir(exist_ok=True)
    if used is not None:
        (usage_dir / domain / f"{local}.quota").write_text(
            f"priv/quota/messages\n{messages}\npriv/quota/storage\n{used}\n"
        )
    if login is not None:
        (usage_dir / domain / f"{local}.login").write_text(f"shared/last-login/{address}\n{login}\n")


def test_usage_files_reach_the_database_and_only_changes_are_read_again(usage_dir, mailboxes):
    dovecot_writes(usage_dir, "alice@example.org", used=95 * 1024 * 1024, messages=40, login=1_790_000_000)
    dovecot_writes(usage_dir, "carol@example.org", used=5 * 1024**3)
    dovecot_writes(usage_dir, "nobody@example.org", used=1)  # no such mailbox: ignored
    dovecot_writes(usage_dir, "bob@elsewhere.example", used=1)  # no such domain: ignored
    updated, since = sync_usage()
    assert updated == 2
    alice, carol, dave = (Mailbox.objects.get(local_part=n) for n in ["alice", "carol", "dave"])
    assert (alice.used_bytes, alice.used_messages, alice.fill_permille) == (95 * 1024 * 1024, 40, 950)
    assert alice.last_login_at.timestamp() == 1_790_000_000
    assert (carol.fill_permille, carol.last_login_at) == (0, None)  # unlimited: never full
    assert (dave.used_bytes, dave.fill_permille) == (None, -1)  # not measured yet

    assert sync_usage(since)[0] == 0  # nothing changed
    time.sleep(0.01)
    dovecot_writes(usage_dir, "dave@example.org", used=1024, login=1_790_000_100)
    os.utime(usage_dir / "example.org", (since + 5, since + 5))  # as the rename touches it
    for name in ["dave.quota", "dave.login"]:
        os.utime(usage_dir / "example.org" / name, (since + 5, since + 5))
    assert sync_usage(since)[0] == 1
    assert Mailbox.objects.get(local_part="dave").used_bytes == 1024


@pytest.mark.parametrize(
    "garbage",
    ["", "priv/quota/storage\n", "priv/quota/storage\n-5\n", "priv/quota/storage\n1e9\n", "\x00\xff" * 3000],
)
def test_a_damaged_usage_file_reads_as_unknown(usage_dir, mailboxes, garbage):
    (usage_dir / "example.org").mkdir()
    (usage_dir / "example.org/alice.quota").write_bytes(garbage.encode("utf-8", "surrogatepass"))
    sync_usage()
    assert Mailbox.objects.get(local_part="alice").used_bytes is None
    assert read_usage(Mailbox.objects.get(local_part="alice")).used_bytes is None


def test_the_admin_sorts_the_fullest_first_and_sees_who_never_logged_in(usage_dir, mailboxes, superadmin_client):
    dovecot_writes(usage_dir, "alice@example.org", used=50 * 1024 * 1024, login=1_790_000_000)
    dovecot_writes(usage_dir, "bob@example.org", used=99 * 1024 * 1024)
    dovecot_writes(usage_dir, "carol@example.org", used=10**9)
    sync_usage()
    client = superadmin_client
    page = client.get("/domains/example.org/?msort=fullest").content.decode()
    order = [page.index(f"{name}@example.org</td>") for name in ["bob", "alice", "carol", "dave"]]
    assert order == sorted(order)
    bob_row = page[page.index("bob@example.org</td>") :].split("</tr>")[0]
    assert "99M of 100M (99%)" in bob_row and "nearly-full" in bob_row and "never" in bob_row
    dave_row = page[page.index("dave@example.org</td>") :].split("</tr>")[0]
    assert 'quota 100M, <span class="hint">not measured yet' in dave_row
    by_name = client.get("/domains/example.org/").content.decode()
    assert by_name.index("alice@example.org</td>") < by_name.index("bob@example.org</td>")


def test_a_quota_lowered_below_the_usage_is_saved_with_a_warning(usage_dir, mailboxes, superadmin_client):
    dovecot_writes(usage_dir, "alice@example.org", used=60 * 1024 * 1024)
    sync_usage()
    client = superadmin_client
    form = {"display_name": "", "quota_mb": "50M", "active": "on", "password": ""}
    response = client.post("/domains/example.org/mailboxes/alice/", form, follow=True)
    assert "alice@example.org is over its quota now: new mail to it bounces" in response.content.decode()
    alice = Mailbox.objects.get(local_part="alice")
    assert (alice.quota_mb, alice.fill_permille) == (50, 1200)
    form["quota_mb"] = "1G"
    response = client.post("/domains/example.org/mailboxes/alice/", form, follow=True)
    assert "over its quota" not in response.content.decode()
    assert Mailbox.objects.get(local_part="alice").fill_permille == 58


def test_the_mailbox_user_sees_their_usage_live_and_is_warned_from_90_percent(usage_dir, mailboxes):
    client = mailbox_client("alice@example.org", PASSWORD)
    assert "not measured yet" in client.get("/account/").content.decode()
    dovecot_writes(usage_dir, "alice@example.org", used=91 * 1024 * 1024, login=1_790_000_000)
    page = client.get("/account/").content.decode()  # read from the file: no sync needed
    assert "91M of 100M (91%)" in page and "Your mailbox is 91% full" in page
    dovecot_writes(usage_dir, "alice@example.org", used=100 * 1024 * 1024)
    assert "Your mailbox is full: new mail to you is refused" in client.get("/account/").content.decode()


def test_mail_waiting_for_a_mailbox_here_is_kept_with_its_reason(mailboxes, superadmin_client):
    envelopes = [
        {"id": "a1", "agent": "mda", "sender": "x@outside.example", "destination": "bob@example.org",
         "created": 1_790_000_000, "retries": 3, "error": "452 4.2.2 Quota exceeded"},
        {"id": "a2", "agent": "mta", "sender": "bob@example.org", "destination": "y@outside.example",
         "created": 1_790_000_000, "retries": 1, "error": "Connection refused"},  # outbound: not ours to show
        {"id": "a3", "agent": "mda", "sender": "", "destination": "ghost@example.org", "created": 0, "error": ""},
    ]  # fmt: skip
    assert sync_queue(envelopes) == {"example.org"}
    queued = QueuedMail.objects.get()
    assert (queued.mailbox.local_part, queued.retries, queued.error) == ("bob", 3, "452 4.2.2 Quota exceeded")
    assert sync_queue([]) == set() and not QueuedMail.objects.exists()


@pytest.mark.parametrize(
    "user", ["../../etc/passwd@x.org", "alice@example.org\n", "-A", "a b@example.org", "ALICE@example.org", 7, ""]
)
def test_the_helper_measures_only_a_mail_address_in_its_stored_form(tmp_path, user):
    helper = Helper({"root": str(tmp_path), "staging": str(tmp_path), "privileged": False})
    with pytest.raises(Refused, match="user must be a mail address in its stored form"):
        helper.handle({"op": "measure_usage", "user": user})


def test_the_helper_seeds_missing_usage_files_and_never_replaces_dovecots(tmp_path):
    fake_doveadm = tmp_path / "doveadm"
    fake_doveadm.write_text(
        "#!/bin/sh\nprintf 'username\\tquota name\\ttype\\tvalue\\tlimit\\t%%\\n"
        "alice@example.org\\tUser quota\\tSTORAGE\\t2048\\t10240\\t20\\n"
        "alice@example.org\\tUser quota\\tMESSAGE\\t7\\t-\\t0\\n"
        "bob@example.org\\tUser quota\\tSTORAGE\\t1\\t-\\t0\\n'\n"
    )
    fake_doveadm.chmod(0o755)
    usage = tmp_path / "usage"
    (usage / "example.org").mkdir(parents=True)
    (usage / "example.org/bob.quota").write_text("priv/quota/storage\n99\n")  # Dovecot's: kept
    (usage / "example.org/carol.quota").symlink_to("/etc/passwd")
    config = {"root": str(tmp_path), "staging": str(tmp_path), "privileged": False}
    config |= {"query": {"quota_all": [str(fake_doveadm)]}, "usage": {"dir": str(usage), "python": sys.executable}}
    answer = Helper(config).handle({"op": "measure_usage"})
    assert answer == {"ok": True, "measured": 2, "written": 1}
    assert (usage / "example.org/alice.quota").read_text() == "priv/quota/messages\n7\npriv/quota/storage\n2097152\n"
    assert (usage / "example.org/bob.quota").read_text() == "priv/quota/storage\n99\n"


def test_the_helper_reads_the_queue_as_smtpctl_prints_it(tmp_path):
    line = (
        "1a2b3c4d5e6f7a8b|inet4|mda||x@outside.example|bob@example.org|bob@example.org"
        "|1790000000|1790345600|1790000100|2|pending|120|452 4.2.2 Quota exceeded | really"
    )
    fake = tmp_path / "smtpctl"
    fake.write_text(f"#!/bin/sh\necho '{line}'\necho 'garbage'\n")
    fake.chmod(0o755)
    config = {"root": str(tmp_path), "staging": str(tmp_path), "privileged": False, "query": {"queue": [str(fake)]}}
    envelopes = Helper(config).handle({"op": "queue"})["envelopes"]
    assert envelopes == [
        {
            "id": "1a2b3c4d5e6f7a8b",
            "agent": "mda",
            "sender": "x@outside.example",
            "recipient": "bob@example.org",
            "destination": "bob@example.org",
            "created": 1790000000,
            "expires": 1790345600,
            "retries": 2,
            "error": "452 4.2.2 Quota exceeded | really",
        }
    ]


def test_a_helper_without_the_commands_says_so(tmp_path):
    helper = Helper({"root": str(tmp_path), "staging": str(tmp_path), "privileged": False})
    with pytest.raises(Refused, match="no queue command configured"):
        helper.handle({"op": "queue"})


def test_the_domain_page_shows_waiting_mail_only_for_domains_that_have_some(mailboxes, superadmin_client):
    from export.dirty import config_state
    from export.models import ConfigState

    sync_queue([{"id": "a1", "agent": "mda", "sender": "x@outside.example", "destination": "bob@example.org",
                 "created": 1_790_000_000, "retries": 3, "error": "452 4.2.2 Quota exceeded"}])  # fmt: skip
    client = superadmin_client
    config_state()
    assert "Mail is waiting" not in client.get("/domains/example.org/").content.decode()
    ConfigState.objects.filter(pk=1).update(queued_domains=["example.org"])
    page = client.get("/domains/example.org/").content.decode()
    assert "Mail is waiting to be delivered" in page and "452 4.2.2 Quota exceeded" in page
