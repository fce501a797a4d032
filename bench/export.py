"""Render + stage + install of the whole configuration, reloads excluded.

Loads N mailboxes across 100 domains, then times each step of an apply: snapshot (database
reads), render, stage (writing the generation for the helper) and install (the real helper,
unprivileged against a sandbox root, over its socket: copy with fsync, switch). Five runs each,
then the same again with 20% of the mailboxes holding 3 app passwords each.

    .venv/bin/python bench/export.py [N ...]      (default: 10000 100000)
"""

import statistics
import sys
import time

from _setup import VAR, add_app_passwords, fresh_database
from django.test import override_settings

from accounts.management.commands.loaddemo import load_demo
from core.mailhost import host_config
from export import helper_client
from export.apply import gc_paused
from export.render import render
from export.snapshot import take_snapshot
from export.stage import stage
from tests.helpers import helper_process, sandbox_config

RUNS = 5


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    root, staging, sock = VAR / "export-root", VAR / "staging", VAR / "helper.sock"
    print(
        f"\n  {'apply (reloads excluded)':34} {'snapshot':>9} {'render':>8} {'stage':>8} {'install':>8} {'total s':>8} {'MB':>6}"
    )
    config = sandbox_config(root, staging, sock)
    with helper_process(config, VAR / "helper.json"):
        with override_settings(EXPORT_ROOT=root, STAGING_DIR=staging, HELPER_SOCKET=sock):
            number = 0
            for n, app_passwords in [(n, with_apps) for n in sizes for with_apps in (False, True)]:
                fresh_database()
                load_demo(mailboxes=n, domains=100)
                label = f"N = {n:,} mailboxes, 100 domains"
                if app_passwords:
                    label = f"  + {add_app_passwords(0.2, 3):,} app passwords"
                rows = []
                for _ in range(RUNS):
                    number += 1
                    t0 = time.perf_counter()
                    with gc_paused():  # as apply_pending does
                        snapshot = take_snapshot()
                        t1 = time.perf_counter()
                        files = render(snapshot, host_config())
                        t2 = time.perf_counter()
                    stage(number, files)
                    t3 = time.perf_counter()
                    answer = helper_client.call({"op": "apply", "generation": number})
                    t4 = time.perf_counter()
                    assert answer["ok"], answer
                    rows.append((t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0))
                size = sum(len(d) for d in files.values()) / 1e6
                median = [statistics.median(column) for column in zip(*rows, strict=True)]
                print(f"  {label:34} " + " ".join(f"{v:8.3f}" for v in median[:4]) + f" {median[4]:8.3f} {size:6.1f}")
    print(f"  (median of {RUNS} runs, seconds; install = the helper's copy, fsync and switch)")


if __name__ == "__main__":
    main()
