"""The apply worker as a process: killed in the middle of an apply, it costs seconds, not minutes.

A crash, the OOM killer or `systemctl restart` can stop the worker while it holds the apply lock.
The lock dies with it (apply.apply_lock), so the restarted worker, or `applyworker --once
--force`, applies the next change at once."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from accounts import actions
from audit.log import COMMAND_LINE
from export.models import Generation
from tests.helpers import MAIL_PASSWORD, ROOT


def database_url(connection) -> str:
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    return f"postgres://{conf['USER']}:{conf['PASSWORD']}@{conf['HOST']}:{conf['PORT'] or 5432}/{conf['NAME']}"


@pytest.fixture
def stuck_helper(tmp_path):
    """A helper that takes the request and never answers, as a hung one would."""
    path = tmp_path / "stuck.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()
    held = []
    threading.Thread(target=lambda: held.append(listener.accept()), daemon=True).start()
    yield path
    listener.close()


def worker(settings, tmp_path, helper_socket: Path, *args: str) -> subprocess.Popen:
    from django.db import connection

    env = os.environ | {
        "DATABASE_URL": database_url(connection),
        "MAILADMIN_VAR_DIR": str(tmp_path / "var"),
        "EXPORT_ROOT": str(settings.EXPORT_ROOT),
        "STAGING_DIR": str(settings.STAGING_DIR),
        "HELPER_SOCKET": str(helper_socket),
        "MAIL_HOSTNAME": settings.MAIL_HOSTNAME,
    }
    command = [sys.executable, str(ROOT / "manage.py"), "applyworker", *args]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(condition, timeout: float) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.mark.parametrize("restart", ["worker", "once --force"])
def test_a_worker_killed_mid_apply_stalls_nothing(
    transactional_db, settings, tmp_path, sandbox_helper, stuck_helper, domain, restart
):
    first = worker(settings, tmp_path, stuck_helper)
    try:
        actions.create_mailbox(domain, "early", MAIL_PASSWORD, actor=COMMAND_LINE)
        wait_for(lambda: Generation.objects.filter(ok=None).exists(), timeout=30)  # rendered, waiting on the helper
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    actions.create_mailbox(domain, "late", MAIL_PASSWORD, actor=COMMAND_LINE)
    users = sandbox_helper / "etc/dovecot/users"
    if restart == "worker":
        second = worker(settings, tmp_path, settings.HELPER_SOCKET)
        try:
            waited = wait_for(lambda: users.exists() and "late@example.org" in users.read_text(), timeout=30)
        finally:
            second.terminate()
            second.wait()
    else:
        once = worker(settings, tmp_path, settings.HELPER_SOCKET, "--once", "--force")
        assert once.wait(30) == 0
        waited = 0.0
        assert "late@example.org" in users.read_text()
    assert waited < 10, f"the next change took {waited:.1f} s to reach the daemons' files"
    interrupted = Generation.objects.order_by("pk").first()
    assert not interrupted.ok and "interrupted" in interrupted.error
