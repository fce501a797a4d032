"""Server time and SQL queries per page with many mailboxes.

Loads N mailboxes across 100 domains (one shared hash, so the load measures the panel and not
libxcrypt) into a fresh SQLite file database, then times each page through Django's test
client: the full request path (middleware, sessions, views, templates), without the network.

    .venv/bin/python bench/pages.py [N ...]      (default: 10000 100000)
"""

import statistics
import sys
import time
from pathlib import Path

from _setup import VAR, fresh_database
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from accounts import actions
from accounts.management.commands.loaddemo import load_demo
from accounts.models import Mailbox
from audit.log import COMMAND_LINE
from audit.models import AuditEntry
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


def pages(big: str, per_page_domain: int, page_size: int) -> list[tuple[str, str, dict]]:
    middle = max(1, (per_page_domain // page_size) // 2)
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "mailbox-results"}
    return [
        ("dashboard", "/", {}),
        ("dashboard, search", "/?q=demo05", {}),
        ("domain page, first page", f"/domains/{big}/", {}),
        (f"domain page, middle page ({middle})", f"/domains/{big}/?mpage={middle}", {}),
        ("domain page, search", f"/domains/{big}/?mq=user0012", {}),
        ("domain page, search (htmx)", f"/domains/{big}/?mq=user0012", htmx),
        ("audit log", "/audit/", {}),
        ("audit log, search", "/audit/?q=user0012", {}),
    ]


def run(n: int, single_domain: bool) -> None:
    fresh_database()
    start = time.perf_counter()
    load_demo(mailboxes=n, domains=1 if single_domain else DOMAINS)
    add_audit_history(n)
    load_seconds = time.perf_counter() - start
    admin = actions.create_admin("bench", "bench password 1", actor=COMMAND_LINE, superadmin=True)
    client = Client()
    client.force_login(admin)
    big = Domain.objects.order_by("name").first().name
    in_big = Mailbox.objects.filter(domain__name=big).count()
    size = sum(p.stat().st_size for p in Path(VAR).glob("db.sqlite3*"))
    layout = "all in one domain" if single_domain else f"{DOMAINS} domains, {in_big} in {big}"
    print(f"\nN = {n:,} mailboxes ({layout}); loaded in {load_seconds:.1f} s; SQLite {size / 1e6:.0f} MB")
    print(f"  {'page':40} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    from django.conf import settings

    for name, url, headers in pages(big, in_big, settings.PAGE_SIZE):
        p50, p95, queries = measure(client, url, headers)
        print(f"  {name:40} {p50:8.1f} {p95:8.1f} {queries:8d}")


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        for n in sizes:
            run(n, single_domain=False)
        run(sizes[-1], single_domain=True)


if __name__ == "__main__":
    main()
