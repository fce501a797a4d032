"""An installation made before a layout change keeps everything when it migrates."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE_FLOOR_PLAN = ROOT / "tests/data/db-before-floor-plan.sqlite3"
TEST_DKIM_KEY = "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="  # see tests/data/README.md

CHECKS = """
import django
django.setup()
from accounts import sessions
from accounts.models import Alias, Mailbox, User
from audit.models import AuditEntry
from domains.models import DkimKey, Domain
from core.mailhost import host_config
from export.render import render
from export.snapshot import take_snapshot

assert sorted(Domain.objects.values_list("name", flat=True)) == ["alias.example", "example.org", "xn--bcher-kva.example"]
assert sessions.authenticate_mailbox("alice@example.org", "mail password 4 alice").display_name == "Alice"
assert sessions.authenticate_mailbox("bob@bücher.example", "mail password 4 bob")
assert Alias.objects.get(local_part="info").destinations == ["alice@example.org", "someone@elsewhere.example"]
assert Alias.objects.filter(local_part="").count() == 1
assert User.objects.get(username="root").check_password("correct horse battery staple")
assert list(User.objects.get(username="dora").domains.values_list("name", flat=True)) == ["example.org"]
entries = AuditEntry.objects.all()
assert entries.count() == 12 and entries.filter(object_type="mailbox", object_name="alice@example.org").exists()
assert AuditEntry.objects.visible_to(User.objects.get(username="dora")).filter(domain_name="example.org").count() >= 1
files = render(take_snapshot(), host_config())
assert b"alice@example.org" in files["dovecot/users"]
assert files["rspamd/dkim/example.org.s2026.key"].startswith(b"-----BEGIN PRIVATE KEY-----")
assert b"mode: enforce" in files["mta-sts/example.org.txt"]
print("checked")
"""


def test_a_database_from_before_the_floor_plan_migrates_with_all_its_data(tmp_path):
    shutil.copy(BEFORE_FLOOR_PLAN, tmp_path / "db.sqlite3")
    env = {
        **os.environ,
        "MAILADMIN_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DKIM_ENCRYPTION_KEY": TEST_DKIM_KEY,
        "DJANGO_SETTINGS_MODULE": "mailadmin.settings",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    migrate = subprocess.run([*manage, "migrate", "--no-input"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert migrate.returncode == 0, migrate.stderr
    assert "Applying audit.0001_initial... OK" in migrate.stdout
    checks = subprocess.run([sys.executable, "-c", CHECKS], env=env, cwd=ROOT, capture_output=True, text=True)
    assert checks.returncode == 0 and "checked" in checks.stdout, checks.stderr
    unapplied = subprocess.run([*manage, "makemigrations", "--check", "--dry-run"], env=env, cwd=ROOT)
    assert unapplied.returncode == 0
