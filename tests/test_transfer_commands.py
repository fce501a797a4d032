"""manage.py importcsv and exportcsv: the pages' import and export from the command line."""

import os
import re

import pytest
from django.core.management import CommandError

from accounts import mailpasswords
from accounts.models import Alias, Mailbox
from audit.models import AuditEntry
from tests.helpers import run_command
from transfer.models import ImportJob

HEADER = "type,address,name,quota,active,password,destinations"
SECRET = "the plain text 4 bob"


@pytest.fixture
def people(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        f"{HEADER}\ndomain,new.example,,1G,,,\nmailbox,bob@new.example,Bob,,,{SECRET},\n"
        "alias,info@new.example,,,,,bob@new.example\nmailbox,alice@example.org,Alice,,,,\n"
    )
    return path


def test_a_dry_run_says_what_each_line_would_do_and_writes_nothing(mailbox, people):
    output = run_command("importcsv", str(people), "--dry-run")
    assert output.splitlines() == [
        "line 2: will create domain new.example",
        "line 3: will create mailbox bob@new.example",
        "line 4: will create alias info@new.example",
        "line 5: will change mailbox alice@example.org: name “Alice Liddell” → “Alice”",
        "4 lines: 3 to create, 1 to change, 0 unchanged, 0 with errors",
    ]
    assert not ImportJob.objects.exists() and Mailbox.objects.count() == 1


def test_it_imports_with_yes(mailbox, people):
    output = run_command("importcsv", str(people), "--yes")
    assert "hashing 1 passwords…\n  1 of 1 hashed\n" in output
    assert re.search(r"done in [0-9.]+ s: 3 created, 1 changed, 0 unchanged, 0 failed", output)
    bob = Mailbox.objects.get(local_part="bob")
    assert mailpasswords.check_hash(SECRET, bob.password_hash) and bob.quota_mb == 1024
    assert Alias.objects.get().destinations == ["bob@new.example"]
    assert AuditEntry.objects.filter(actor_name="command line, CSV import", action="created").count() == 4
    assert ImportJob.objects.get().owner is None


def test_without_yes_and_without_a_terminal_it_writes_nothing(mailbox, people):
    with pytest.raises(CommandError, match=r"Nothing was written \(run with --yes"):
        run_command("importcsv", str(people))
    assert Mailbox.objects.count() == 1


def test_a_file_with_errors_is_refused_whole(domain, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(f"{HEADER}\nmailbox,bob@example.org,,,,{SECRET},\nmailbox,x:y@example.org,,,,{SECRET},\n")
    with pytest.raises(CommandError, match="1 line with errors: nothing was written"):
        run_command("importcsv", str(path), "--yes")
    assert not Mailbox.objects.exists()


def test_it_reads_standard_input_and_refuses_what_it_cannot_read(domain, tmp_path):
    data = f"{HEADER}\nmailbox,bob@example.org,,,,{mailpasswords.DUMMY_HASH},\n"
    assert "1 created" in run_command("importcsv", "-", "--yes", stdin=data)
    path = tmp_path / "latin.csv"
    path.write_bytes("type,address\nmailbox,zoë@example.org\n".encode("latin-1"))
    with pytest.raises(CommandError, match="The file is not UTF-8 text: line 2 has the byte 0xEB"):
        run_command("importcsv", str(path))
    with pytest.raises(CommandError, match="cannot read /nonexistent.csv: No such file or directory"):
        run_command("importcsv", "/nonexistent.csv")


def test_exportcsv_writes_what_importcsv_reads(mailbox, tmp_path):
    output = run_command("exportcsv")
    assert output.splitlines() == [
        HEADER,
        "domain,example.org,,unlimited,yes,,",
        "mailbox,alice@example.org,Alice Liddell,unlimited,yes,,",
    ]
    path = tmp_path / "all.csv"
    run_command("exportcsv", "--hashes", "-o", str(path))
    assert mailbox.password_hash in path.read_text()
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert AuditEntry.objects.get(action="exported").actor_name == "command line"
    assert "2 lines: 0 to create, 0 to change, 2 unchanged" in run_command("importcsv", str(path), "--dry-run")


def test_exportcsv_one_domain(domain, other_domain):
    assert "other.example" not in run_command("exportcsv", "--domain", "example.org")
    with pytest.raises(CommandError, match="no such domain: nowhere.example"):
        run_command("exportcsv", "--domain", "nowhere.example")
