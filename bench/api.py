"""The REST API against the pages it stands beside: listing mailboxes and creating one.

Loads N mailboxes into one domain (the worst case for a list: every count and page reads that
domain's 100,000 rows) in a fresh SQLite file database, then times, through Django's test client
(middleware, authentication, throttling, views, serializers or templates; no network):

- the mailbox list, first page, middle page and a search: GET /api/v1/domains/D/mailboxes/
  with a read-write token against the domain page GET /domains/D/ signed in;
- creating a mailbox: POST /api/v1/domains/D/mailboxes/ against the form's POST
  /domains/D/mailboxes/new/, both with the password hash replaced by a constant, so that what
  is compared is the panel's own work, not yescrypt's (~the same cost on both sides).

It checks the issue's targets and says which hold: the API's list at the largest N costs no more
than the page (p95) and at most 1.2 × its own p95 at the smallest N (measured side by side, the
two sizes' requests alternating, so that the machine's load falls on both alike), with a query
count that does not grow with the page or N; an API create costs no more than the form's (p95).

    .venv/bin/python bench/api.py [N ...]      (default: 1000 100000)
"""

import json
import re
import statistics
import sys
import time
from pathlib import Path

from _setup import fresh_database, open_database, percentile, use
from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from accounts import actions, mailpasswords
from accounts.management.commands.loaddemo import load_demo
from api.actions import create_token
from audit.log import COMMAND_LINE
from domains.models import Domain

RUNS = 100
CREATES = 60
PASSWORD = "a fine mail password"


def timed(call) -> tuple[float, int]:
    start = time.perf_counter()
    status = call()
    return (time.perf_counter() - start) * 1000, status


def measure_get(client: Client, url: str, **headers) -> tuple[float, float, int]:
    for _ in range(5):
        assert client.get(url, **headers).status_code == 200, url
    times = []
    for _ in range(RUNS):
        ms, status = timed(lambda: client.get(url, **headers).status_code)
        assert status == 200, (url, status)
        times.append(ms)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, **headers)
    return statistics.median(times), percentile(times, 0.95), len(queries)


def measure_creates(send, names: list[str]) -> tuple[float, float, int]:
    times = []
    for name in names:
        ms, status = timed(lambda name=name: send(name))
        assert status in (201, 302), (name, status)
        times.append(ms)
    with CaptureQueriesContext(connection) as queries:
        send(names[0] + "x")
    return statistics.median(times), percentile(times, 0.95), len(queries)


def run(n: int) -> dict:
    fresh_database()
    start = time.perf_counter()
    load_demo(mailboxes=n, domains=1)
    loaded = time.perf_counter() - start
    admin = actions.create_admin("bench", "bench password 1", actor=COMMAND_LINE, superadmin=True)
    _, token = create_token(admin, "bench", actor=COMMAND_LINE, writes=True, domains=None, expires_at=None)
    page = Client()
    page.force_login(admin)
    api = Client(headers={"Authorization": f"Bearer {token}"})
    domain = Domain.objects.get().name
    middle = max(1, n // settings.PAGE_SIZE // 2)
    print(f"\nN = {n:,} mailboxes in {domain}; loaded in {loaded:.1f} s")
    print(f"  {'request':52} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    results = {}
    lists = [
        ("page: domain page, first page", page, f"/domains/{domain}/"),
        ("api:  mailboxes, first page", api, f"/api/v1/domains/{domain}/mailboxes/"),
        (f"page: domain page, middle page ({middle})", page, f"/domains/{domain}/?mpage={middle}"),
        (f"api:  mailboxes, middle page ({middle})", api, f"/api/v1/domains/{domain}/mailboxes/?page={middle}"),
        ("page: domain page, search user0001", page, f"/domains/{domain}/?mq=user0001"),
        ("api:  mailboxes, search user0001", api, f"/api/v1/domains/{domain}/mailboxes/?q=user0001"),
        ("api:  mailboxes, fullest first", api, f"/api/v1/domains/{domain}/mailboxes/?sort=fullest"),
    ]
    for name, client, url in lists:
        results[name] = measure_get(client, url)
        print(f"  {name:52} {results[name][0]:8.1f} {results[name][1]:8.1f} {results[name][2]:8d}")

    # Creating, with the hash taken out of both sides (the same yescrypt call on each).
    real_hash, constant = mailpasswords.make_hash, mailpasswords.make_hash(PASSWORD)
    mailpasswords.make_hash = lambda password: constant
    try:

        def form(name: str) -> int:
            data = {"local_part": name, "quota_mb": "1G", "active": "on", "password1": PASSWORD, "password2": PASSWORD}
            return page.post(f"/domains/{domain}/mailboxes/new/", data).status_code

        def rest(name: str) -> int:
            data = json.dumps({"local_part": name, "quota": "1G", "password": PASSWORD})
            return api.post(f"/api/v1/domains/{domain}/mailboxes/", data, content_type="application/json").status_code

        for _ in range(3):  # warm both paths
            form(f"warmform{_}"), rest(f"warmapi{_}")
        for name, send, prefix in (
            ("page: create a mailbox (form)", form, "form"),
            ("api:  create a mailbox", rest, "api"),
        ):
            results[name] = measure_creates(send, [f"{prefix}{i:04d}" for i in range(CREATES)])
            print(f"  {name:52} {results[name][0]:8.1f} {results[name][1]:8.1f} {results[name][2]:8d}")
    finally:
        mailpasswords.make_hash = real_hash
    return results


def side_by_side(sizes: list[int]) -> dict[int, tuple[float, float]]:
    """The API's first page at each size, measured so that the machine cannot tilt the ratio:
    each size in its own SQLite file, both connections kept open, requests alternating between
    them RUNS times. Returns {N: (p50, p95)}."""
    original = connections["default"]
    setups = {}
    try:
        for n in sizes:
            wrapper = open_database(f"api-one-domain-{n}.sqlite3")
            load_demo(mailboxes=n, domains=1)
            admin = actions.create_admin("bench", "bench password 1", actor=COMMAND_LINE, superadmin=True)
            _, token = create_token(admin, "bench", actor=COMMAND_LINE, writes=True, domains=None, expires_at=None)
            url = f"/api/v1/domains/{Domain.objects.get().name}/mailboxes/"
            setups[n] = (wrapper, Client(headers={"Authorization": f"Bearer {token}"}), url)
        times: dict[int, list[float]] = {n: [] for n in sizes}
        for round_ in range(RUNS + 5):
            for n in sizes if round_ % 2 else reversed(sizes):
                wrapper, client, url = setups[n]
                use(wrapper)
                ms, status = timed(lambda client=client, url=url: client.get(url).status_code)
                assert status == 200, (url, status)
                if round_ >= 5:  # the first rounds warm both up
                    times[n].append(ms)
        return {n: (statistics.median(t), percentile(t, 0.95)) for n, t in times.items()}
    finally:
        use(original)
        for wrapper, _, _ in setups.values():
            wrapper.close()


def verdict(ok: bool, text: str) -> None:
    print(f"  {'ok  ' if ok else 'MISS'} {text}")


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 100_000]
    print(f"load average (1, 5, 15 min) at start: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    with override_settings(ALLOWED_HOSTS=["testserver"], API_REQUESTS_PER_MINUTE=10**9):
        runs = {n: run(n) for n in sizes}
        paired = side_by_side([sizes[0], sizes[-1]])
    small, large = runs[sizes[0]], runs[sizes[-1]]
    first, page = "api:  mailboxes, first page", "page: domain page, first page"
    print(f"\nTargets (N = {sizes[-1]:,} against N = {sizes[0]:,}):")
    verdict(
        large[first][1] <= large[page][1],
        f"API list p95 {large[first][1]:.1f} ms ≤ the domain page's {large[page][1]:.1f} ms",
    )
    (small_p50, small_p95), (large_p50, large_p95) = paired[sizes[0]], paired[sizes[-1]]
    verdict(
        large_p95 <= 1.2 * small_p95,
        f"API list p95 {large_p95:.1f} ms ≤ 1.2 × its {small_p95:.1f} ms at N = {sizes[0]:,}, side by side"
        f" (requests alternating; p50 {large_p50:.1f} against {small_p50:.1f} ms)",
    )

    # The target: a query count that does not grow with the page or the host (each request as
    # many queries at every N; a search may take one more, the count that an unsearched list
    # reads from the domain instead).
    def queries(run: dict) -> dict[str, int]:
        return {re.sub(r" \(\d+\)", "", name): r[2] for name, r in run.items() if name.startswith("api:  mailboxes")}

    grows = [name for name, n in queries(large).items() if n != queries(small).get(name)]
    pages = {n for name, n in queries(large).items() if "page" in name}
    verdict(
        not grows and len(pages) == 1,
        f"API list queries the same at every N and on every page: {queries(large)}",
    )
    form, rest = large["page: create a mailbox (form)"], large["api:  create a mailbox"]
    verdict(rest[1] <= form[1], f"API create p95 {rest[1]:.1f} ms ≤ the form's {form[1]:.1f} ms (hash excluded)")
    print(f"\nload average (1, 5, 15 min) at end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
