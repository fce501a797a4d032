"""CSV import of 10,000 mailboxes with plain-text passwords: the dry run, the hashing, the writing.

Times each step as the web import runs it (transfer.runner: the same functions its threads
call), on a throwaway SQLite database that already holds N mailboxes in 100 domains, and
checks that the whole import marked the configuration dirty once (one apply). Then the same
file with crypt(3) hashes instead of plain texts (nothing to hash). Prints the load average
and the CPU the process used, since hashing is CPU-bound and shares the machine.

    .venv/bin/python bench/csvimport.py [LINES] [EXISTING]     (default: 10000 10000)
"""

import os
import resource
import secrets
import sys
import time

from _setup import fresh_database

from accounts.mailpasswords import make_hash
from accounts.management.commands.loaddemo import load_demo
from accounts.models import Mailbox
from export.dirty import config_state
from export.models import Change
from transfer import csvformat, runner
from transfer.models import ImportJob
from transfer.plan import plan


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def the_file(lines: int, password) -> bytes:
    rows = ["type,address,name,quota,active,password,destinations", "domain,import.example,,2G,yes,,"]
    rows += [f"mailbox,user{i}@import.example,User {i},1G,yes,{password(i)}," for i in range(lines)]
    return ("\r\n".join(rows) + "\r\n").encode()


def run(label: str, data: bytes) -> None:
    fresh_database()
    load_demo(mailboxes=EXISTING, domains=100)
    wanted, changes = config_state().wanted, Change.objects.count()
    load_before, cpu_before = os.getloadavg()[0], cpu()

    t0 = time.perf_counter()
    result = plan(csvformat.read(data), None)
    job = runner.create_job(result, owner=None, file_name="bench.csv")
    t1 = time.perf_counter()
    assert not result.errors, result.errors[:3]
    if job.state == ImportJob.HASHING:
        runner.hash_passwords(job.pk, result.plain_texts)
    t2 = time.perf_counter()
    assert runner.confirm(job), "the job should be ready to write"
    runner.write(job.pk)
    t3 = time.perf_counter()

    job.refresh_from_db()
    assert job.state == ImportJob.DONE and job.results == {"created": LINES + 1}, (job.state, job.results, job.error)
    assert Mailbox.objects.filter(domain__name="import.example").count() == LINES
    marks = config_state().wanted - wanted
    change_rows = Change.objects.count() - changes
    used = cpu() - cpu_before
    print(
        f"  {label:34} {t1 - t0:8.2f} {t2 - t1:8.1f} {t3 - t2:8.1f} {t3 - t0:8.1f} {marks:6d} {change_rows:7d}"
        f"   load {load_before:.2f} → {os.getloadavg()[0]:.2f}, CPU {used:.0f} s of {t3 - t0:.0f} s"
    )


LINES = 10_000
EXISTING = 10_000


def main() -> None:
    global LINES, EXISTING
    args = [int(a) for a in sys.argv[1:]]
    LINES = args[0] if args else LINES
    EXISTING = args[1] if len(args) > 1 else EXISTING
    print(f"\n  CSV import of {LINES:,} new mailboxes into a host with {EXISTING:,}, {os.cpu_count()} CPUs")
    print(f"  {'':34} {'dry run':>8} {'hashing':>8} {'writing':>8} {'total s':>8} {'marks':>6} {'changes':>7}")
    run("plain-text passwords", the_file(LINES, lambda i: secrets.token_urlsafe(12)))
    hashed = make_hash("one shared imported password")  # as given in a file: nothing to hash
    run("crypt(3) hashes, kept as given", the_file(LINES, lambda i: hashed))
    print(
        "  dry run = read + check every line + store the report (the upload request); hashing = yescrypt in one"
        "\n  thread (the web process's); writing = every line through the actions, 100 per transaction;"
        "\n  marks = times the configuration was marked dirty (1: one apply for the whole import)"
    )


if __name__ == "__main__":
    main()
