"""From a saved password change to the real Dovecot and OpenSMTPD accepting the new password.

Starts the lab mail host of tests/daemons (real Dovecot, OpenSMTPD 7.4, Rspamd on loopback,
needs root), loads N mailboxes, runs the apply worker's loop in its own process (0.1 s poll), then
20 times: change a mailbox's password through the panel's action, and time until an IMAP
login and then an SMTP AUTH with the new password both succeed.

    .venv/bin/python bench/latency.py [N ...] [--against REV]   (default: 1000 100000)

prints p50/p95 per size, the ratio of the p95s (largest / smallest), and with --against the
largest size timed at another git revision too, side by side in the same run.
"""

import argparse
import imaplib
import multiprocessing
import os
import shutil
import smtplib
import subprocess
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
from tests.daemons.lab import Lab  # noqa: E402
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


def measure(n: int) -> tuple[list[float], list[float], list[float]]:
    """(IMAP accepted, IMAP and SMTP accepted, the helper's share) in seconds, CHANGES times."""
    lab = Lab(Path("/tmp/mailadmin-bench-lab"))
    lab.setup()
    with override_settings(**lab.panel_settings()):
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
        helper = [g.seconds for g in Generation.objects.filter(ok=True).order_by("-pk")[:CHANGES]]
    return imap_times, both_times, helper


def baseline_p95(revision: str, n: int) -> float | None:
    """p95 of the same path at `revision`, run from a worktree of it with this checkout's venv."""
    tree = Path(f"/tmp/mailadmin-bench-baseline-{revision}")
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), revision], check=True)
    result = subprocess.run(
        [sys.executable, str(tree / "bench/latency.py"), str(n)], capture_output=True, text=True, timeout=3600
    )
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    for line in result.stdout.splitlines():
        if line.strip().startswith("Dovecot and OpenSMTPD AUTH"):
            return float(line.split()[-2])
    print(result.stdout[-2000:], result.stderr[-2000:])
    return None


def main() -> None:
    if os.geteuid() != 0 or not shutil.which("smtpd"):
        print("\n  password change → daemons: skipped (needs root and the daemons: bash scripts/install-daemons)")
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[1_000, 100_000])
    parser.add_argument("--against", help="also time the largest size at this git revision, side by side")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"\n  machine: {os.cpu_count()} CPUs; load average (1, 5 min) at start {load[0]:.2f} {load[1]:.2f}")
    print(f"  {'password change → accepted':44} {'p50 s':>7} {'p95 s':>7} {'max s':>7}")
    p95 = {}
    for n in args.sizes:
        imap_times, both_times, helper = measure(n)
        for name, values in [
            (f"{n:,} mailboxes: Dovecot IMAP login", imap_times),
            (f"{n:,} mailboxes: Dovecot and OpenSMTPD AUTH", both_times),
            (f"{n:,} mailboxes: of which the helper", helper),
        ]:
            print(f"  {name:44} {percentile(values, 0.5):7.2f} {percentile(values, 0.95):7.2f} {max(values):7.2f}")
        p95[n] = percentile(both_times, 0.95)
    smallest, largest = min(p95), max(p95)
    if largest != smallest:
        print(
            f"  ratio of p95, {largest:,} / {smallest:,} mailboxes: {p95[largest] / p95[smallest]:.2f} (target ≤ 1.5)"
        )
    if args.against:
        before = baseline_p95(args.against, largest)
        if before:
            print(
                f"  {largest:,} mailboxes at {args.against}: p95 {before:.2f} s; now {p95[largest]:.2f} s, "
                f"{before / p95[largest]:.1f}x faster (target ≥ 2)"
            )
    load = os.getloadavg()
    print(f"  ({CHANGES} changes each; the worker polls every 0.1 s; load at end {load[0]:.2f} {load[1]:.2f})")


if __name__ == "__main__":
    main()
