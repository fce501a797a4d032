"""Operator commands: passwords come from standard input, never from the command line."""

import pytest
from django.core.management import CommandError

from accounts import mailpasswords
from accounts.models import Alias, Mailbox, User
from domains.models import Domain
from tests.helpers import run_command


def test_a_script_sets_up_a_domain_an_admin_and_a_mailbox(db):
    assert "added domain example.org" in run_command("adddomain", "Example.org", "--quota", "2G")
    run_command("createadmin", "dora", "--domain", "example.org", stdin="a good admin password\n")
    assert "added mailbox bob@example.org" in run_command(
        "addmailbox", "Bob@example.org", "--name", "Bob", stdin="a good mail password\n"
    )
    bob = Mailbox.objects.get()
    assert bob.quota_mb == 2048 and mailpasswords.check_hash("a good mail password", bob.password_hash)
    dora = User.objects.get(username="dora")
    assert not dora.is_superuser and list(dora.domains.all()) == list(Domain.objects.all())


def test_bad_input_stops_the_command_with_a_clear_message(db):
    with pytest.raises(CommandError, match="cannot contain “:”"):
        run_command("addmailbox", "a:b@example.org", stdin="a good mail password\n")
    with pytest.raises(CommandError, match="the domain example.org does not exist"):
        run_command("addmailbox", "bob@example.org", stdin="a good mail password\n")
    with pytest.raises(CommandError, match="no password given"):
        run_command("createadmin", "root", "--superadmin", stdin="")
    with pytest.raises(CommandError, match="cannot contain @"):
        run_command("createadmin", "root@example.org", "--superadmin", stdin="a good admin password\n")
    with pytest.raises(CommandError, match="too short"):
        run_command("createadmin", "root", "--superadmin", stdin="short\n")
    assert not User.objects.exists() and not Mailbox.objects.exists()


def test_firstadmin_creates_one_superadmin_and_prints_its_password_once(db):
    output = run_command("firstadmin")
    password = output.split("password: ")[1].split()[0]
    assert User.objects.get(username="admin").check_password(password)
    assert "exists already" in run_command("firstadmin")
    assert User.objects.count() == 1


def test_firstadmin_points_at_the_public_address_in_production(db, settings):
    settings.PRODUCTION = True
    settings.ALLOWED_HOSTS = ["panel.example.org", "localhost"]
    output = run_command("firstadmin")
    assert "Sign in at https://panel.example.org/ with" in output


def test_loaddemo_fills_domains_with_mailboxes_sharing_one_hash(db):
    run_command("loaddemo", "--mailboxes", "250", "--domains", "5")
    assert Domain.objects.count() == 5 and Mailbox.objects.count() == 250 and Alias.objects.count() == 5
    assert Mailbox.objects.values("password_hash").distinct().count() == 1


def test_the_sqlite_database_is_readable_by_its_owner_only(tmp_path):
    """It holds sessions and password hashes; the default umask would make it world-readable."""
    import os
    import subprocess
    import sys

    from tests.helpers import ROOT

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"MAILADMIN_VAR_DIR": str(tmp_path)}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    for name in ["db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm"]:
        if (tmp_path / name).exists():
            assert oct((tmp_path / name).stat().st_mode & 0o777) == "0o600", name
