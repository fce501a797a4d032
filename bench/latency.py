"""From a saved password change to the real Dovecot and OpenSMTPD accepting the new password.

Starts the lab mail host of tests/daemons (real Dovecot, OpenSMTPD 7.4, Rspamd on loopback,
needs root), loads N mailboxes, runs the apply worker's loop in its own process (0.1 s poll), then
20 times: change a mailbox's password through the panel's action, and time until an IMAP
login and then an SMTP AUTH with the new password both succeed.

    .venv/bin/python bench/latency.py [N]      (default: 10000)
"""

import imaplib
import multiprocessing
import os
import shutil
import smtplib
import sys
import time
from pathlib import Path

from _setup import ROOT, fresh_database, percentile

sys.path.insert(0, str(ROOT))
from django.db import close_old_connections, connections, transaction  # noqa: E402
from django.test import override_settings  # noqa: E402

from accounts import actions  # noqa: E402
from accounts.management.commands.loaddemo import load_demo  # noqa: E402
from audit.log import COMMAND_LINE  # noqa: E402
from domains.actions import create_domain  # noqa: E402
from export.apply import apply_pending  # noqa: E402
from export.models import Generation  # noqa: E402
from tests.daemons.lab import HOSTNAME, Lab  # noqa: E402
from tests.daemons.mailclient import imap_login, smtp_auth  # noqa: E402

CHANGES = 20


def accepted(check, *args) -> bool:
    """A login attempt; a connection cut by the reload it is racing counts as "not yet"."""
    try:
        return check(*args)
    except (OSError, imaplib.IMAP4.abort, smtplib.SMTPException):
        return False


def worker(stop) -> None:
    """The apply worker's loop, in its own process as in production (a thread would share the GIL
    with this process's polling logins and measure that contention instead)."""
    connections.close_all()
    while not stop.is_set():
        close_old_connections()
        if apply_pending() is None:
            time.sleep(0.1)


def main() -> None:
    if os.geteuid() != 0 or not shutil.which("smtpd"):
        print("\n  password change → daemons: skipped (needs root and the daemons: bash scripts/install-daemons)")
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    lab = Lab(Path("/tmp/mailadmin-bench-lab"))
    lab.setup()
    with override_settings(
        MAIL_HOSTNAME=HOSTNAME,
        EXPORT_ROOT=lab.root,
        STAGING_DIR=lab.staging,
        HELPER_SOCKET=lab.socket,
        MAIL_HOST=lab.mail_host(),
    ):
        fresh_database()
        load_demo(mailboxes=n, domains=100)
        domain = create_domain("bench.example", actor=COMMAND_LINE)
        mailbox = actions.create_mailbox(domain, "alice", "password number 0", actor=COMMAND_LINE)
        lab.start("helper")
        assert apply_pending(force=True).ok
        for name in ["rspamd", "dovecot", "smtpd"]:
            lab.start(name)
        context = multiprocessing.get_context("fork")
        stop = context.Event()
        connections.close_all()
        process = context.Process(target=worker, args=(stop,), daemon=True)
        process.start()
        imap_times, both_times = [], []
        try:
            for change in range(1, CHANGES + 1):
                password = f"password number {change}"
                with transaction.atomic():
                    actions.set_mailbox_password(mailbox, password, actor=COMMAND_LINE)
                saved = time.perf_counter()
                while not accepted(imap_login, lab, "alice@bench.example", password):
                    time.sleep(0.02)
                imap_times.append(time.perf_counter() - saved)
                while not accepted(smtp_auth, lab, "alice@bench.example", password):
                    time.sleep(0.02)
                both_times.append(time.perf_counter() - saved)
        finally:
            stop.set()
            process.join(30)
            lab.stop_all()
        print(
            f"\n  {'password change → accepted (' + format(n, ',') + ' mailboxes)':44} {'p50 s':>7} {'p95 s':>7} {'max s':>7}"
        )
        for name, values in [("Dovecot IMAP login", imap_times), ("Dovecot and OpenSMTPD AUTH", both_times)]:
            print(f"  {name:44} {percentile(values, 0.5):7.2f} {percentile(values, 0.95):7.2f} {max(values):7.2f}")
        helper = sorted(g.seconds for g in Generation.objects.filter(ok=True).order_by("-pk")[:CHANGES])
    print(
        f"  {'of which the helper (install, check, reload)':44} {percentile(helper, 0.5):7.2f} {percentile(helper, 0.95):7.2f} {max(helper):7.2f}"
    )
    print(f"  ({CHANGES} changes; the worker polls every 0.1 s, then renders, stages, installs and reloads)")


if __name__ == "__main__":
    main()
