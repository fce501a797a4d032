"""What one password check costs: the mailbox hash (yescrypt, which Dovecot and OpenSMTPD pay on
every login too) and the admin hash (Django's Argon2).

    .venv/bin/python bench/logins.py
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailadmin.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import check_password, make_password  # noqa: E402

from accounts import mailpasswords  # noqa: E402

RUNS = 30


def timed(fn) -> tuple[float, float]:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(RUNS * 0.95) - 1]


def main() -> None:
    mailbox_hash = mailpasswords.make_hash("a mail password")
    admin_hash = make_password("an admin password")
    rows = [
        (
            f"mailbox: yescrypt check ({mailbox_hash[:7]}…)",
            lambda: mailpasswords.check_hash("a mail password", mailbox_hash),
        ),
        ("mailbox: yescrypt new hash", lambda: mailpasswords.make_hash("a mail password")),
        (
            f"admin: Argon2id check ({admin_hash.split('$')[3]})",
            lambda: check_password("an admin password", admin_hash),
        ),
    ]
    print(f"\n  {'password check':44} {'p50 ms':>8} {'p95 ms':>8}")
    for name, fn in rows:
        p50, p95 = timed(fn)
        print(f"  {name:44} {p50:8.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
