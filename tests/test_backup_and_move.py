"""A backup restores onto an empty installation with nothing lost; the database moves to PostgreSQL."""

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts import actions
from audit.log import COMMAND_LINE
from core.management.commands._dump import dump
from domains import actions as domain_actions
from domains import dkim
from domains.models import DkimKey, Domain
from export.apply import apply_pending

ROOT = Path(__file__).resolve().parents[1]


def signing_key(domain: Domain, algorithm: str) -> None:
    key = domain.dkim_keys.filter(algorithm=algorithm).first()
    key = key or domain_actions.create_dkim_key(domain, actor=COMMAND_LINE, algorithm=algorithm)
    # Signing, as after a live check saw its record: publication is not what this file tests.
    DkimKey.objects.filter(pk=key.pk).update(state=DkimKey.ACTIVE, activated_at=timezone.now())


def some_data() -> None:
    domain = domain_actions.create_domain("example.org", actor=COMMAND_LINE)
    actions.create_admin("root", "correct horse battery staple", actor=COMMAND_LINE, superadmin=True)
    actions.create_mailbox(domain, "alice", "alice mail password", actor=COMMAND_LINE, quota_mb=512)
    actions.create_alias(domain, "", ["alice@example.org"], actor=COMMAND_LINE)
    signing_key(domain, dkim.RSA)
    signing_key(domain, dkim.ED25519)


def rows() -> list:
    # The configuration counter is left out: a restore bumps it so the next apply writes everything.
    # Django's serializer keeps milliseconds: a time of 42.000412 s goes out as "42.000Z" and
    # comes back as 42.000000, which it then writes "42Z". Both are the same instant.
    text = dump().replace('.000Z"', 'Z"')
    everything = [r for r in json.loads(text) if r["model"] != "export.configstate"]
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


def private_keys() -> dict[str, bytes]:
    """Each signing key as Rspamd reads it, by its file in a generation."""
    return {
        f"rspamd/dkim/{key.domain.name}.{key.selector}.key": dkim.decrypt(key.private_key_encrypted)
        for key in DkimKey.objects.filter(state=DkimKey.ACTIVE)
    }


def test_a_backup_holds_dkim_private_keys_only_encrypted_and_a_restore_then_apply_writes_them(
    transactional_db, sandbox_helper, tmp_path, settings
):
    some_data()
    assert apply_pending(force=True).ok
    keys = private_keys()
    assert len(keys) == 2
    live = sandbox_helper / "etc/mailadmin/current"
    assert {rel: (live / rel).read_bytes() for rel in keys} == keys  # the applied generation had them
    backup = tmp_path / "mailadmin.tar.gz"
    call_command("backup", str(backup), stdout=open(os.devnull, "w"))
    everything = gzip.decompress(backup.read_bytes())  # every member's bytes, as stored
    assert b"PRIVATE KEY" not in everything
    for key in keys.values():
        assert key not in everything
        assert not [line for line in key.splitlines() if len(line) > 16 and line in everything]
    with tarfile.open(backup) as tar:
        names = tar.getnames()
    assert "generation/files/dovecot/users" in names
    assert not [name for name in names if name.endswith(".key")]
    call_command("flush", "--no-input", verbosity=0)
    shutil.rmtree(settings.STAGING_DIR)
    call_command("restore", str(backup), stdout=open(os.devnull, "w"))
    restored = apply_pending()
    assert restored.ok, restored.error
    assert private_keys() == keys
    assert {rel: (live / rel).read_bytes() for rel in keys} == keys
    assert (live / "GENERATION").read_text() == f"{restored.pk}\n"  # written by the apply after the restore


def rewritten(backup: Path, target: Path, *, meta: dict | None = None, extra: list | None = None) -> Path:
    """The backup with backup.json changed and members added, as someone could craft it."""
    with tarfile.open(backup) as source, tarfile.open(target, "w:gz") as crafted:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else None
            if member.name == "backup.json" and meta is not None:
                data = json.dumps(json.loads(data) | meta).encode()
                member.size = len(data)
            crafted.addfile(member, io.BytesIO(data) if data is not None else None)
        for member, data in extra or []:
            crafted.addfile(member, io.BytesIO(data) if data is not None else None)
    return target


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"x", link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o644
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


@pytest.mark.parametrize("generation", ["1/../../escaped", "/tmp/escaped", "7", -1, 0, True, 1.5, [1]])
def test_a_backup_whose_generation_is_not_a_positive_number_is_refused(
    transactional_db, sandbox_helper, tmp_path, settings, generation
):
    some_data()
    assert apply_pending(force=True).ok
    backup = tmp_path / "mailadmin.tar.gz"
    call_command("backup", str(backup), stdout=open(os.devnull, "w"))
    crafted = rewritten(backup, tmp_path / "crafted.tar.gz", meta={"generation": generation})
    call_command("flush", "--no-input", verbosity=0)
    shutil.rmtree(settings.STAGING_DIR)
    with pytest.raises(CommandError, match="not a positive whole number: refused"):
        call_command("restore", str(crafted), stdout=open(os.devnull, "w"))
    assert not Domain.objects.exists()
    assert not (tmp_path / "escaped").exists() and not settings.STAGING_DIR.exists()


@pytest.mark.parametrize(
    "extra",
    [
        member("../outside"),
        member("/tmp/absolute"),
        member("generation/files/../../../outside"),
        member("notes.txt"),
        member("generation/files/dovecot/users", tarfile.SYMTYPE, link="/etc/shadow"),
        member("generation/files/smtpd/passwds", tarfile.LNKTYPE, link="database.json"),
        member("generation/files/.hidden"),
        member("generation/fifo", tarfile.FIFOTYPE),
        member("database.json", data=b"[]"),  # a second one, which extraction would let win
    ],
    ids=lambda extra: f"{extra[0].name}:{extra[0].type.decode()}",
)
def test_a_backup_with_members_a_backup_never_holds_is_refused(transactional_db, tmp_path, settings, extra):
    settings.STAGING_DIR = tmp_path / "var/staging"
    some_data()
    backup = tmp_path / "mailadmin.tar.gz"
    call_command("backup", str(backup), stdout=open(os.devnull, "w"))
    crafted = rewritten(backup, tmp_path / "crafted.tar.gz", extra=[extra])
    call_command("flush", "--no-input", verbosity=0)
    with pytest.raises(CommandError, match="which a mailadmin backup does not: refused"):
        call_command("restore", str(crafted), stdout=open(os.devnull, "w"))
    assert not Domain.objects.exists()
    assert not (tmp_path / "outside").exists() and not Path("/tmp/absolute").exists()


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
        assert conn.execute("SELECT count(*) FROM audit_auditentry").fetchone() == (
            4,
        )  # domain, its key, mailbox, admin
        assert conn.execute("SELECT count(*) FROM domains_dkimkey").fetchone() == (1,)
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


def test_a_backup_from_before_keys_were_sealed_restores_them_sealed(transactional_db, tmp_path):
    from core.sealed import unseal
    from factors.models import Enrolment

    admin = actions.create_admin("root", "correct horse battery staple", actor=COMMAND_LINE, superadmin=True)
    Enrolment.objects.create(user=admin, user_handle="h", totp_secret="JBSWY3DPEHPK3PXP")  # as stored then
    backup = tmp_path / "old.tar.gz"
    call_command("backup", str(backup), stdout=open(os.devnull, "w"))
    call_command("flush", "--no-input", verbosity=0)
    call_command("restore", str(backup), stdout=open(os.devnull, "w"))
    stored = Enrolment.objects.get().totp_secret
    assert stored != "JBSWY3DPEHPK3PXP" and unseal(stored, "test") == b"JBSWY3DPEHPK3PXP"
