"""Server time and SQL queries per page with many mailboxes.

Loads N mailboxes across 100 domains (one shared hash, so the load measures the panel and not
libxcrypt) into a fresh SQLite file database, then times each page through Django's test
client: the full request path (middleware, sessions, views, templates), without the network.

The mailboxes carry usage as accounts.usage leaves it (quota, bytes, messages, fill, last IMAP
login), so every page is measured with usage shown, and the domain page also sorted fullest
first (?msort=fullest); EXPLAIN QUERY PLAN shows that sort reads the index mailbox_fullest_first.

Then the ratio targets, side by side: the smallest and largest N each in one domain (so a page
shows 50 rows at both), requests alternating between the two so that the machine's load falls on
both alike; and with --against REV, the single-domain pages at another revision.

    .venv/bin/python bench/pages.py [N ...] [--against REV]     (default: 1000 100000)
"""

import argparse
import datetime
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _setup import ROOT, VAR, fresh_database, open_database, use
from django.conf import settings
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from accounts import actions
from accounts.management.commands.loaddemo import load_demo
from accounts.models import Mailbox
from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from core.quota import fill_permille
from domains.models import Domain

RUNS = 60
DOMAINS = 100


def measure(client: Client, url: str, headers: dict) -> tuple[float, float, int]:
    for _ in range(3):
        client.get(url, **headers)
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        response = client.get(url, **headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, **headers)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], len(queries)


def add_audit_history(n: int) -> None:
    """One audit entry per mailbox, as if each had been created through the panel."""
    domains = list(Domain.objects.all())
    entries = (
        AuditEntry(
            actor_name="admin bench",
            domain=domains[i % len(domains)],
            domain_name=domains[i % len(domains)].name,
            action="created",
            object_type="mailbox",
            object_name=f"user{i:06d}@{domains[i % len(domains)].name}",
            changes={"quota_mb": [None, 0]},
        )
        for i in range(n)
    )
    AuditEntry.objects.bulk_create(entries, batch_size=5000)


QUOTAS_MB = (512, 1024, 1024, 2048, 2048, 2048, 5120, 10240)  # what one draw picks from
UNKNOWN, UNLIMITED, NEVER_LOGGED_IN = 0.05, 0.08, 0.12  # shares of the mailboxes


def add_usage() -> str:
    """Usage as accounts.usage.sync_usage leaves it, written with one bulk UPDATE: 5% not
    measured yet (used_bytes NULL, fill_permille -1), 8% unlimited (fill 0), the rest a quota
    of 512M to 10G filled 0 to 110%, most lightly (fill = 1100 × u², u uniform: about 9% at 90%
    or more, 5% over quota); 12% never logged in, the others within the last weeks.
    Returns a line that says what was written."""
    rng = random.Random(20261201)
    now = timezone.now()
    login_field = Mailbox._meta.get_field("last_login_at")
    rows = []
    for pk in Mailbox.objects.order_by("pk").values_list("pk", flat=True).iterator():
        draw = rng.random()
        quota_mb = 0 if UNKNOWN <= draw < UNKNOWN + UNLIMITED else rng.choice(QUOTAS_MB)
        if draw < UNKNOWN:
            used = None
        elif not quota_mb:
            used = int(rng.lognormvariate(21, 1.5))  # median about 1.3G, a few far larger
        else:
            fill = int(1100 * rng.random() ** 2)
            # the least byte count whose fill, as core.quota computes it, is `fill`
            used = -(-quota_mb * 1024 * 1024 * fill // 1000)
        messages = None if used is None else used // rng.randint(20_000, 150_000)
        login = None
        if rng.random() >= NEVER_LOGGED_IN:
            login = now - datetime.timedelta(seconds=min(rng.expovariate(1 / (4 * 86400)), 365 * 86400))
        rows.append(
            (
                quota_mb,
                used,
                messages,
                fill_permille(used, quota_mb),
                login_field.get_db_prep_value(login, connection),
                pk,
            )
        )
    column = {name: Mailbox._meta.get_field(name).column for name in ("quota_mb", "used_bytes", "used_messages")}
    qn = connection.ops.quote_name
    sql = (
        f"UPDATE {qn(Mailbox._meta.db_table)} SET {qn(column['quota_mb'])} = %s, {qn(column['used_bytes'])} = %s,"
        f" {qn(column['used_messages'])} = %s, {qn(Mailbox._meta.get_field('fill_permille').column)} = %s,"
        f" {qn(login_field.column)} = %s WHERE {qn(Mailbox._meta.pk.column)} = %s"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    n = len(rows)
    fills = [row[3] for row in rows]

    def share(count: int) -> str:
        return f"{100 * count / n:.0f}%"

    return (
        f"usage: {share(fills.count(-1))} not measured, {share(sum(1 for r in rows if not r[0]))} unlimited,"
        f" {share(sum(1 for f in fills if f >= 900))} at 90% or more, {share(sum(1 for f in fills if f >= 1000))}"
        f" over quota, {share(sum(1 for r in rows if r[4] is None))} never logged in"
    )


def fullest_first_plan(domain: Domain, offset: int, query: str = "") -> list[str]:
    """EXPLAIN QUERY PLAN of the keys the domain page picks with ?msort=fullest, as
    domain_page_context and core.views.KeysFirstPaginator ask for them (a deep unsearched page
    narrows this from an anchor first: accounts.pages)."""
    mailboxes = Mailbox.objects.filter(domain=domain).search(query)
    found = mailboxes.count() if query else domain.mailbox_count
    page = offset // settings.PAGE_SIZE + 1
    mailboxes = mailboxes.fullest_first(found, domain.mailbox_count, page, settings.PAGE_SIZE)
    return mailboxes.values("pk")[offset : offset + settings.PAGE_SIZE].explain().splitlines()


def pages(big: str, per_page_domain: int, page_size: int, narrow: str, wide: str) -> list[tuple[str, str, dict]]:
    middle = max(1, (per_page_domain // page_size) // 2)
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "mailbox-results"}
    return [
        ("dashboard", "/", {}),
        ("dashboard, search", "/?q=demo05", {}),
        ("domain page, first page", f"/domains/{big}/", {}),
        (f"domain page, middle page ({middle})", f"/domains/{big}/?mpage={middle}", {}),
        ("domain page, search", f"/domains/{big}/?mq={narrow}", {}),
        ("domain page, search (htmx)", f"/domains/{big}/?mq={narrow}", htmx),
        ("domain page, fullest first", f"/domains/{big}/?msort=fullest", {}),
        (f"  fullest, middle page ({middle})", f"/domains/{big}/?msort=fullest&mpage={middle}", {}),
        ("  fullest, search one", f"/domains/{big}/?msort=fullest&mq={narrow}", {}),
        ("  fullest, search a tenth", f"/domains/{big}/?msort=fullest&mq={wide}", {}),
        ("  fullest, search one (htmx)", f"/domains/{big}/?msort=fullest&mq={narrow}", htmx),
        ("audit log", "/audit/", {}),
        ("audit log, search", f"/audit/?q={narrow}", {}),
    ]


def run(n: int, single_domain: bool, show_plan: bool) -> dict[str, float]:
    """Prints the table for N mailboxes; returns {page, without its page number: p95 ms}."""
    fresh_database()
    start = time.perf_counter()
    load_demo(mailboxes=n, domains=1 if single_domain else DOMAINS)
    add_audit_history(n)
    load_seconds = time.perf_counter() - start
    start = time.perf_counter()
    usage = add_usage()
    usage_seconds = time.perf_counter() - start
    admin = actions.create_admin("bench", "bench password 1", actor=COMMAND_LINE, superadmin=True)
    client = Client()
    client.force_login(admin)
    big = Domain.objects.order_by("name").first().name
    in_big = Mailbox.objects.filter(domain__name=big).count()
    size = sum(p.stat().st_size for p in Path(VAR).glob("db.sqlite3*"))
    layout = "all in one domain" if single_domain else f"{DOMAINS} domains, {in_big} in {big}"
    print(
        f"\nN = {n:,} mailboxes ({layout}); loaded in {load_seconds:.1f} s, usage added in {usage_seconds:.1f} s;"
        f" SQLite {size / 1e6:.0f} MB"
    )
    print(f"  {usage}")
    # Searches that find as many rows at every size: one mailbox, and a tenth of the domain.
    names = list(Mailbox.objects.filter(domain__name=big).order_by("local_part").values_list("local_part", flat=True))
    narrow = names[len(names) // 2]
    wide = os.path.commonprefix([names[0], names[max(0, len(names) // 10 - 1)]])
    print(f"  searches: one mailbox {narrow!r}, a tenth of the domain {wide!r}")
    urls = pages(big, in_big, settings.PAGE_SIZE, narrow, wide)
    for url in (u for _, u, _ in urls if u.startswith("/domains/")):
        assert b"<meter " in client.get(url).content, f"no usage shown at {url}"
    print(f"  {'page':40} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    found = {}
    for name, url, headers in urls:
        p50, p95, queries = measure(client, url, headers)
        print(f"  {name:40} {p50:8.1f} {p95:8.1f} {queries:8d}")
        found[re.sub(r" \(\d+\)", "", name)] = p95
    domain = Domain.objects.get(name=big)
    middle = max(1, (in_big // settings.PAGE_SIZE) // 2)
    for offset, query in ((0, ""), ((middle - 1) * settings.PAGE_SIZE, "")):
        plan = fullest_first_plan(domain, offset, query)
        line = next((line.strip() for line in plan if "mailbox_fullest_first" in line), None)
        if line is None:
            print(f"  !! fullest first (offset {offset}) does not use mailbox_fullest_first:", *plan, sep="\n    ")
        elif show_plan and not offset:
            print(f"  EXPLAIN QUERY PLAN, fullest first: {line}")
    if show_plan:
        for query in (narrow, wide):
            print(
                f"  EXPLAIN QUERY PLAN, fullest first, search {query}:", "; ".join(fullest_first_plan(domain, 0, query))
            )
    return found


def side_by_side(sizes: list[int]) -> None:
    """The ratio targets, measured so that the machine cannot tilt them: each size in its own
    SQLite file with all mailboxes in one domain (so a page shows 50 rows at every size), both
    connections kept open, and each request of a page sent to one size, then the other, RUNS
    times. Prints p50 and p95 of each and the ratio of the p95s."""
    original = connections["default"]
    setups = {}
    try:
        for n in sizes:
            wrapper = open_database(f"one-domain-{n}.sqlite3")
            load_demo(mailboxes=n, domains=1)
            add_audit_history(n)
            add_usage()
            admin = actions.create_admin("bench", "bench password 1", actor=COMMAND_LINE, superadmin=True)
            client = Client()
            client.force_login(admin)
            big = Domain.objects.get().name
            names = list(Mailbox.objects.order_by("local_part").values_list("local_part", flat=True))
            narrow = names[len(names) // 2]
            wide = os.path.commonprefix([names[0], names[max(0, len(names) // 10 - 1)]])
            setups[n] = (wrapper, client, pages(big, n, settings.PAGE_SIZE, narrow, wide))
        small, large = min(sizes), max(sizes)
        print(f"\n  side by side, all in one domain, requests alternating between {small:,} and {large:,} mailboxes")
        print(f"  {'page':40} {'p50':>7} {'p95':>7} {'p50':>7} {'p95':>7} {'ratio of p95':>13}  (target ≤ 1.2)")
        for index in range(len(setups[small][2])):
            name = setups[small][2][index][0]
            times: dict[int, list[float]] = {n: [] for n in sizes}
            for round_ in range(RUNS + 3):
                for n in (small, large) if round_ % 2 else (large, small):
                    wrapper, client, urls = setups[n]
                    _, url, headers = urls[index]
                    use(wrapper)
                    start = time.perf_counter()
                    response = client.get(url, **headers)
                    if round_ >= 3:  # the first rounds warm both up
                        times[n].append((time.perf_counter() - start) * 1000)
                    assert response.status_code == 200, (url, response.status_code)
            figures = {n: (statistics.median(t), sorted(t)[int(len(t) * 0.95) - 1]) for n, t in times.items()}
            ratio = figures[large][1] / figures[small][1]
            label = re.sub(r" \(\d+\)", "", name)
            print(
                f"  {label:40} {figures[small][0]:7.1f} {figures[small][1]:7.1f} {figures[large][0]:7.1f}"
                f" {figures[large][1]:7.1f} {ratio:13.2f}{'' if ratio <= 1.2 else '  over'}"
            )
    finally:
        use(original)
        for wrapper, _, _ in setups.values():
            wrapper.close()


def baseline(revision: str, n: int) -> dict[str, float]:
    """The single-domain table at another revision (its own bench/pages.py, from a worktree)."""
    tree = Path(f"/tmp/mailadmin-bench-pages-{revision}")
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), revision], check=True)
    try:
        result = subprocess.run(
            [sys.executable, str(tree / "bench/pages.py"), str(n)], capture_output=True, text=True, timeout=3600
        )
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    table = result.stdout.split("(all in one domain)")[-1]
    found = {}
    for line in table.splitlines():
        if match := re.match(r"  (\S.*?)\s+([\d.]+)\s+([\d.]+)\s+(\d+)$", line):
            found[re.sub(r" \(\d+\)", "", match.group(1))] = float(match.group(3))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[1_000, 100_000])
    parser.add_argument("--against", help="also time the single-domain pages at this git revision")
    args = parser.parse_args()
    large = max(args.sizes)
    print(f"load average (1, 5, 15 min) at start: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        for n in args.sizes:
            run(n, single_domain=False, show_plan=False)
        single = run(large, single_domain=True, show_plan=True)
        if len(set(args.sizes)) > 1:
            side_by_side(sorted(set(args.sizes)))
    if args.against:
        before = baseline(args.against, large)
        print(f"\n  {large:,} in one domain, p95 ms: at {args.against}, now, speed-up (domain page target ≥ 1.5)")
        for name, p95 in single.items():
            if name in before:
                print(f"  {name:40} {before[name]:8.1f} {p95:8.1f} {before[name] / p95:8.2f}")
    print(f"\nload average (1, 5, 15 min) at end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
