"""manage.py adopt: a dry run, then everything through the actions, all or nothing, with one apply."""

import io
import tarfile

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from accounts import actions as account_actions
from accounts.models import Alias, Mailbox
from adopt import actions
from adopt.reading import read_host
from adopt.report import dry_run
from adopt.sources import Directory
from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from domains import dkim
from domains.actions import create_domain
from domains.models import DkimKey, Domain
from export.models import Change, ConfigState
from tests.test_adopt_reading import RSA_KEY, Y, guide_files, write_host


@pytest.fixture(autouse=True)
def _production_mail_host(settings):
    # The production defaults (/home/vmail, uid and gid 5000), even after the daemon tests'
    # lab has pointed MAIL_HOST at itself for the rest of the session.
    settings.MAIL_HOST = {}


def adopt(root, *args: str) -> str:
    out = io.StringIO()
    call_command(
        "adopt",
        "--root",
        str(root),
        *args,
        stdout=out,
    )
    return out.getvalue()


@pytest.fixture
def host(tmp_path):
    write_host(tmp_path, guide_files())
    return tmp_path


def test_it_adopts_everything_through_the_actions_with_one_apply(host, db):
    output = adopt(host, "--yes")
    assert "adopted: 7 created, 0 changed, 1 DKIM keys, 0 mailboxes keep their mail where it is" in output
    assert sorted(Domain.objects.values_list("name", flat=True)) == ["example.net", "example.org"]
    alice = Mailbox.objects.get(local_part="alice")
    assert (alice.password_hash, alice.quota_mb, alice.display_name) == (Y, 2048, "Alice Liddell")
    assert Alias.objects.get(local_part="info").destinations == ["alice@example.org", "bob@example.org"]
    assert Alias.objects.get(local_part="").destinations == ["carol@example.net"]
    key = DkimKey.objects.get(domain__name="example.org")
    assert (key.selector, key.state, key.bits) == ("2020", DkimKey.ACTIVE, 2048)
    assert dkim.decrypt(key.private_key_encrypted) == RSA_KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert "BEGIN" not in key.private_key_encrypted  # encrypted at rest
    # example.org brings its key; example.net signed nothing and gets the panel's own, to publish.
    assert [(k.domain.name, k.state) for k in DkimKey.objects.exclude(pk=key.pk)] == [("example.net", "pending")]
    assert Change.objects.count() == 1  # one apply for the whole host
    actors = set(AuditEntry.objects.values_list("actor_name", flat=True))
    assert actors == {"command line, adoption"}
    assert AuditEntry.objects.filter(action="adopted", object_type="host").exists()
    # The host's own tables are in the panel now: its first apply may replace them (helper.HandBuilt).
    assert ConfigState.objects.get().replace_hand_built


def test_adopting_again_changes_nothing(host, db):
    adopt(host, "--yes")
    Change.objects.all().delete()
    output = adopt(host, "--yes", "-v", "2")
    assert "8 items: 0 to create, 0 to change, 8 unchanged, 0 errors" in output
    assert "adopted: 0 created, 0 changed, 0 DKIM keys" in output
    assert not Change.objects.exists()


def test_a_dry_run_writes_nothing(host, db):
    output = adopt(host, "--dry-run")
    assert "will create mailbox alice@example.org" in output
    assert not Domain.objects.exists() and not AuditEntry.objects.exists()
    assert not ConfigState.objects.filter(replace_hand_built=True).exists()


def test_with_an_error_nothing_is_adopted(host, db):
    (host / "etc/smtpd/passwds").write_text(f"alice@example.org {Y}\nprinter@example.org {Y}\n")
    with pytest.raises(CommandError, match="Nothing was adopted: fix the errors above"):
        adopt(host, "--yes")
    assert not Domain.objects.exists()


def test_a_line_the_actions_refuse_meanwhile_leaves_nothing_written(host, db):
    reading = read_host(Directory(host))
    planned = dry_run(reading, None)
    # Between the dry run and the writing, someone takes an address the host has.
    domain = create_domain("example.net", actor=COMMAND_LINE)
    account_actions.create_mailbox(domain, "carol", "another password", actor=COMMAND_LINE)
    with pytest.raises(ValidationError, match="Nothing was adopted"):
        actions.adopt(planned, reading, actor=COMMAND_LINE)
    assert list(Domain.objects.values_list("name", flat=True)) == ["example.net"]
    assert not Alias.objects.exists() and Mailbox.objects.count() == 1


def test_it_reads_an_archive_of_the_host(host, db, tmp_path_factory):
    archive = tmp_path_factory.mktemp("upload") / "host.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(host / "etc", arcname="etc")
        tar.add(host / "var", arcname="var")
    out = io.StringIO()
    call_command("adopt", "--archive", str(archive), "--dry-run", stdout=out)
    assert "8 items: 8 to create" in out.getvalue()
