"""A backup restores onto an empty installation with nothing lost; the database moves to PostgreSQL."""

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts import actions
from audit.log import COMMAND_LINE
from core.management.commands._dump import dump
from domains import actions as domain_actions

ROOT = Path(__file__).resolve().parents[1]


def some_data() -> None:
    domain = domain_actions.create_domain("example.org", actor=COMMAND_LINE)
    actions.create_admin("root", "correct horse battery staple", actor=COMMAND_LINE, superadmin=True)
    actions.create_mailbox(domain, "alice", "alice mail password", actor=COMMAND_LINE, quota_mb=512)
    actions.create_alias(domain, "", ["alice@example.org"], actor=COMMAND_LINE)
    domain_actions.activate_dkim_key(domain_actions.create_dkim_key(domain, actor=COMMAND_LINE), actor=COMMAND_LINE)


def rows() -> list:
    # The configuration counter is left out: a restore bumps it so the next apply writes everything.
    everything = [r for r in json.loads(dump()) if r["model"] != "export.configstate"]
    return sorted(everything, key=lambda r: (r["model"], str(r["pk"])))


def test_a_backup_restores_onto_an_empty_installation_with_nothing_lost(transactional_db, tmp_path):
    some_data()
    before = rows()
    backup = tmp_path / "mailadmin.tar.gz"
    call_command("backup", str(backup), stdout=open(os.devnull, "w"))
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    call_command("flush", "--no-input", verbosity=0)
    call_command("restore", str(backup), stdout=open(os.devnull, "w"))
    assert rows() == before
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", str(backup))


def test_a_backup_made_before_the_audit_log_moved_restores_with_its_entries(transactional_db, tmp_path):
    some_data()
    before = rows()
    backup, old_backup = tmp_path / "new.tar.gz", tmp_path / "old.tar.gz"
    call_command("backup", str(backup), stdout=open(os.devnull, "w"))
    with tarfile.open(backup) as new, tarfile.open(old_backup, "w:gz") as old:
        for member in new.getmembers():
            data = new.extractfile(member).read() if member.isfile() else None
            if member.name.endswith("database.json"):  # as made before 2026-12: the log was accounts.AuditEntry
                data = data.replace(b'"audit.auditentry"', b'"accounts.auditentry"')
                member.size = len(data)
            old.addfile(member, io.BytesIO(data) if data is not None else None)
    call_command("flush", "--no-input", verbosity=0)
    call_command("restore", str(old_backup), stdout=open(os.devnull, "w"))
    assert rows() == before


def test_check_deploy_passes_with_the_documented_production_environment(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "MAILADMIN_ENV": "production",
        "SECRET_KEY": "k3Jq9-wT2vLx8_pZr4YbN6cHs1mDf0aUe7GiKo5VnQyR8tBw2XcLz",
        "DKIM_ENCRYPTION_KEY": "V2hhdCBhIGdvb2Qga2V5IHRoaXMgd291bGQgYmUhISE=",
        "ALLOWED_HOSTS": "mailadmin.example.org",
        "MAILADMIN_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for missing in ["SECRET_KEY", "ALLOWED_HOSTS", "DKIM_ENCRYPTION_KEY"]:
        result = subprocess.run(
            [sys.executable, "manage.py", "check"], cwd=ROOT, env=env | {missing: ""}, capture_output=True, text=True
        )
        assert result.returncode != 0 and f"production needs {missing} set in the environment" in result.stderr


@pytest.fixture
def postgres_url():
    url = os.environ.get("MAILADMIN_TEST_POSTGRES")
    assert url, "MAILADMIN_TEST_POSTGRES is not set: scripts/test starts PostgreSQL and sets it"
    import psycopg

    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS mailadmin_move_test")
        conn.execute("CREATE DATABASE mailadmin_move_test")
    yield url.rsplit("/", 1)[0] + "/mailadmin_move_test"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS mailadmin_move_test WITH (FORCE)")


def test_a_sqlite_installation_moves_to_postgresql_without_losing_anything(tmp_path, postgres_url):
    env = {
        "PATH": os.environ["PATH"],
        "MAILADMIN_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
    }

    def manage(*args: str, stdin: str = "") -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    manage("migrate", "-v0")
    manage("adddomain", "example.org", "--quota", "1G")
    manage("addmailbox", "alice@example.org", stdin="alice mail password\n")
    manage("createadmin", "root", "--superadmin", stdin="correct horse battery staple\n")
    output = manage("movedb", postgres_url)
    assert "copied" in output
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT local_part, quota_mb FROM accounts_mailbox").fetchall() == [("alice", 1024)]
        assert conn.execute("SELECT username, is_superuser FROM accounts_user").fetchall() == [("root", True)]
        assert conn.execute("SELECT count(*) FROM audit_auditentry").fetchone() == (3,)
    # The moved installation works: the same mail password signs in against PostgreSQL.
    env["DATABASE_URL"] = postgres_url
    check = manage(
        "shell",
        "-c",
        "from accounts.sessions import authenticate_mailbox; "
        "print(bool(authenticate_mailbox('alice@example.org', 'alice mail password')))",
    )
    assert check.strip().endswith("True")
    result = subprocess.run(
        [sys.executable, "manage.py", "movedb", postgres_url],
        cwd=ROOT,
        env=env | {"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "not empty" in result.stderr
