"""What a login costs with app passwords, against the real Dovecot and OpenSMTPD (needs root).

Starts the lab mail host of tests/daemons on its own ports, loads N mailboxes with 20% of them
holding 3 app passwords, and gives one mailbox 3 app passwords of its own (slots 1 to 3). Then
times IMAP LOGIN (Dovecot tries its passdbs in turn) and SMTP AUTH (OpenSMTPD asks PAM, which
runs pam_pwdfile over each file in turn) with: the mailbox's own password (first file), the app
password in slot 1 (second file), the one in slot 3 (fourth file), and a wrong password (all
eleven files, then refused). Each time is one whole login: connect, TLS, authenticate, log out.

    .venv/bin/python bench/applogins.py [N]      (default: 100000)
"""

import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("MAILADMIN_LAB_PORT_OFFSET", "3000")  # beside a test lab on the default ports

from _setup import ROOT, add_app_passwords, fresh_database, percentile  # noqa: E402

sys.path.insert(0, str(ROOT))
from django.test import override_settings  # noqa: E402

from accounts import actions  # noqa: E402
from accounts.management.commands.loaddemo import load_demo  # noqa: E402
from audit.log import COMMAND_LINE  # noqa: E402
from domains.actions import create_domain  # noqa: E402
from export.apply import apply_pending  # noqa: E402
from tests.daemons.lab import Lab  # noqa: E402
from tests.daemons.mailclient import imap_login, smtp_auth  # noqa: E402

RUNS = 30
PASSWORD = "bench mail password"


def timed(check, *args, expect: bool) -> float:
    start = time.perf_counter()
    assert check(*args) is expect, (check.__name__, args[1:], expect)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    if os.geteuid() != 0 or not shutil.which("smtpd"):
        print("\n  logins with app passwords: skipped (needs root and the daemons: bash scripts/install-daemons)")
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    lab = Lab(Path("/tmp/mailadmin-bench-applogins-lab"))
    lab.setup()
    with override_settings(**lab.panel_settings()):
        fresh_database()
        load_demo(mailboxes=n, domains=100)
        others = add_app_passwords(0.2, 3)
        mailbox = actions.create_mailbox(
            create_domain("bench.example", actor=COMMAND_LINE), "alice", PASSWORD, actor=COMMAND_LINE
        )
        texts = [actions.create_app_password(mailbox, f"device {i}", actor=COMMAND_LINE)[1] for i in (1, 2, 3)]
        lab.start("helper")
        assert apply_pending(force=True).ok
        for name in ["rspamd", "dovecot", "smtpd"]:
            lab.start(name)
        user = "alice@bench.example"
        cases = [
            ("own password (1st file)", PASSWORD, True),
            ("app password, slot 1 (2nd file)", texts[0], True),
            ("app password, slot 3 (4th file)", texts[2], True),
            ("wrong password (all 11 files)", "not the password", False),
        ]
        try:
            for check in (imap_login, smtp_auth):  # warm up: TLS session caches, auth processes
                check(lab, user, PASSWORD)
            results = []
            for label, password, ok in cases:
                imap = [timed(imap_login, lab, user, password, expect=ok) for _ in range(RUNS)]
                smtp = [timed(smtp_auth, lab, user, password, expect=ok) for _ in range(RUNS)]
                results.append((label, imap, smtp))
        finally:
            lab.stop_all()
    print(f"\n  login with app passwords ({n:,} mailboxes, {others:,} app passwords)  IMAP p50  p95   SMTP p50  p95 ms")
    for label, imap, smtp in results:
        print(
            f"  {label:44} {percentile(imap, 0.5):7.1f} {percentile(imap, 0.95):5.1f}"
            f"   {percentile(smtp, 0.5):7.1f} {percentile(smtp, 0.95):5.1f}"
        )
    print(f"  ({RUNS} logins each, one connection each: connect, TLS, authenticate, log out)")


if __name__ == "__main__":
    main()
