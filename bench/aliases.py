"""Render and apply with aliases in chains and ladders, beside the same host without them.

For each size, loads M mailboxes across 100 domains (loaddemo) and adds A aliases straight
into the table (bulk_create, as a legacy import would, so the alias action's depth check is
bypassed):
- half in ladders: 8 rungs of 2 aliases, x_i and y_i each delivering to x_{i+1} and y_{i+1},
  the last rung to two mailboxes (16 aliases per ladder, each top alias 9 levels deep);
- half in chains of 8 aliases ending in a mailbox, the deepest smtpd expands, with a tenth of
  them in chains of 10: legacy rows whose top two aliases the renderer leaves out.

Then times each step of an apply as apply_pending does (snapshot, vet+render, stage, install by
the real helper, unprivileged against a sandbox root; reloads excluded), median of 5 runs, with
the machine's load average beside the figures. At the largest size it deletes every alias and
times the same host again, so the aliases' own cost is visible.

    .venv/bin/python bench/aliases.py [MAILBOXES:ALIASES ...]   (default: 1000:100 100000:10000)
"""

import os
import shutil
import signal
import statistics
import sys
import time

from _setup import VAR, fresh_database
from django.db import connection, transaction
from django.test import override_settings

from accounts.management.commands.loaddemo import load_demo
from accounts.models import Alias
from core.mailhost import host_config
from domains.models import Domain
from export import helper_client
from export.apply import gc_paused
from export.render import render_vetted, vet
from export.snapshot import take_snapshot
from export.stage import prune_staged, stage
from tests.helpers import helper_process, sandbox_config

RUNS = 5
DOMAINS = 100
CHAIN, LONG_CHAIN, RUNGS = 8, 10, 8
TIME_LIMIT = 20 * 60  # seconds: the whole run, loads included


def add_aliases(total: int, mailboxes: int) -> int:
    """`total` aliases in ladders and chains over the demo mailboxes; returns how many rows the
    renderer must leave out (the top two of each chain of 10)."""
    domains = list(Domain.objects.filter(name__startswith="demo").order_by("name"))

    def mailbox(n: int) -> str:  # loaddemo puts mailbox n in the (n % domains)-th domain
        n %= mailboxes
        return f"user{n:06d}@{domains[n % len(domains)].name}"

    rows = []
    ladders = (total // 2) // (2 * RUNGS)
    for ladder in range(ladders):
        domain = domains[ladder % len(domains)]
        name = f"ladder{ladder:05d}-{{}}{{}}@{domain.name}".format
        for rung in range(1, RUNGS + 1):
            if rung < RUNGS:
                destinations = [name("x", rung + 1), name("y", rung + 1)]
            else:
                destinations = [mailbox(ladder * 2 + 7), mailbox(ladder * 2 + 8)]
            for side in "xy":
                rows.append(
                    Alias(domain=domain, local_part=f"ladder{ladder:05d}-{side}{rung}", destinations=destinations)
                )
    budget = total - len(rows)
    long_chains = max(1, round(budget / 10 / LONG_CHAIN))
    lengths = [LONG_CHAIN] * long_chains
    rest = budget - LONG_CHAIN * long_chains
    lengths += [CHAIN] * (rest // CHAIN) + ([rest % CHAIN] if rest % CHAIN else [])
    for chain, length in enumerate(lengths):
        domain = domains[chain % len(domains)]
        for link in range(1, length + 1):
            below = mailbox(chain * 13 + 5) if link == 1 else f"chain{chain:05d}-{link - 1}@{domain.name}"
            rows.append(Alias(domain=domain, local_part=f"chain{chain:05d}-{link}", destinations=[below]))
    assert len(rows) == total, (len(rows), total)
    with transaction.atomic():
        Alias.objects.bulk_create(rows, batch_size=5000)
    return long_chains * (LONG_CHAIN - CHAIN)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:5.2f} {five:5.2f}"


class Pipeline:
    """The steps of export.apply._apply, timed; generation numbers go on across sizes."""

    def __init__(self) -> None:
        self.number = 0

    def once(self) -> tuple[tuple[float, ...], int, float]:
        self.number += 1
        host = host_config()
        t0 = time.perf_counter()
        with gc_paused():  # as _apply does
            snapshot = take_snapshot()
            t1 = time.perf_counter()
            vetted = vet(snapshot, host)
            t2 = time.perf_counter()
            files = render_vetted(vetted, host)
            t3 = time.perf_counter()
        stage(self.number, files)
        t4 = time.perf_counter()
        answer = helper_client.call({"op": "apply", "generation": self.number})
        t5 = time.perf_counter()
        assert answer["ok"], answer
        prune_staged({self.number})
        megabytes = sum(len(data) for data in files.values()) / 1e6
        return (t1 - t0, t3 - t1, t2 - t1, t4 - t3, t5 - t4, t5 - t0), len(vetted.problems), megabytes

    def median(self, label: str) -> tuple[list[float], int]:
        rows, left_out, megabytes = [], 0, 0.0
        for _ in range(RUNS):
            times, left_out, megabytes = self.once()
            rows.append(times)
        median = [statistics.median(column) for column in zip(*rows, strict=True)]
        print(
            f"  {label:34} " + " ".join(f"{v:8.3f}" for v in median) + f" {megabytes:6.1f} {left_out:5d}   {load()}",
            flush=True,
        )
        return median, left_out


def parse_sizes(args: list[str]) -> list[tuple[int, int]]:
    sizes = [tuple(int(part) for part in arg.split(":")) for arg in args] or [(1_000, 100), (100_000, 10_000)]
    return [(m, a) for m, a in sizes]


def run(pipeline: Pipeline, sizes: list[tuple[int, int]]) -> None:
    print(f"\n  machine: {os.cpu_count()} CPUs; load average (1 min, 5 min) at start {load()}")
    print(
        f"  {'apply with aliases (reloads excl.)':34} {'snapshot':>8} {'vet+rend':>8} {'(vet)':>8} "
        f"{'stage':>8} {'install':>8} {'total s':>8} {'MB':>6} {'l.out':>5}   load 1m 5m"
    )
    medians = []
    for mailboxes, aliases in sizes:
        fresh_database()
        started = time.perf_counter()
        load_demo(mailboxes=mailboxes, domains=DOMAINS)
        expected = add_aliases(aliases, mailboxes)
        print(f"  (loaded {mailboxes:,} mailboxes + {aliases:,} aliases in {time.perf_counter() - started:.1f} s)")
        median, left_out = pipeline.median(f"M = {mailboxes:,}, A = {aliases:,}")
        if left_out != expected:
            print(f"  !! {left_out} rows left out, expected {expected} (the top two of each chain of {LONG_CHAIN})")
        medians.append(median)
    if len(medians) > 1:
        ratios = [big / small if small else float("nan") for small, big in zip(medians[0], medians[-1], strict=True)]
        print(f"  {'ratio, largest / smallest':34} " + " ".join(f"{r:8.1f}" for r in ratios))
        (m0, a0), (m1, a1) = sizes[0], sizes[-1]
        print(f"  ({m1 / m0:.0f}x the mailboxes, {a1 / a0:.0f}x the aliases; linear cost gives a ratio near that)")
    mailboxes, aliases = sizes[-1]
    Alias.objects.all().delete()
    bare, _ = pipeline.median(f"M = {mailboxes:,}, no aliases")
    with_aliases = medians[-1]
    extra = with_aliases[1] - bare[1]
    print(
        f"  the {aliases:,} aliases' own cost at {mailboxes:,} mailboxes: vet+render {extra:+.3f} s "
        f"({extra / bare[1]:+.0%}), whole apply {with_aliases[5] - bare[5]:+.3f} s"
    )
    print(
        f"  (median of {RUNS} runs, seconds; vet+render includes (vet): the checks and the alias walk; "
        f"install = the helper's copy, fsync and switch; l.out = rows left out)"
    )


def main() -> None:
    def out_of_time(*_) -> None:
        raise TimeoutError(f"bench/aliases.py ran over its {TIME_LIMIT} s limit")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the cleanup below, then stop
    signal.alarm(TIME_LIMIT)
    sizes = parse_sizes(sys.argv[1:])
    root, staging, sock = VAR / "export-root", VAR / "staging", VAR / "helper.sock"
    try:
        with helper_process(sandbox_config(root, staging, sock), VAR / "helper.json"):
            with override_settings(EXPORT_ROOT=root, STAGING_DIR=staging, HELPER_SOCKET=sock):
                run(Pipeline(), sizes)
    finally:
        signal.alarm(0)
        connection.close()
        shutil.rmtree(VAR, ignore_errors=True)


if __name__ == "__main__":
    main()
