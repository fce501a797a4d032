"""Checking every record of 100 domains against a real nameserver on loopback.

Serves 100 domains' zones, exported by the panel itself, from Debian's nsd on a loopback port,
then checks every expected record of every domain (resolver and the domains' own nameservers,
as "Check now" does) with 16 checks in flight. Wall time of the whole run.

    .venv/bin/python bench/dnschecks.py [DOMAINS]      (default: 100)
"""

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _setup import ROOT, fresh_database
from django.test import override_settings

sys.path.insert(0, str(ROOT))
from audit.log import COMMAND_LINE  # noqa: E402
from dnsrecords.checks import Lookup, check_all  # noqa: E402
from dnsrecords.data import mail_host_dns, records_for  # noqa: E402
from dnsrecords.zonefile import zone_text  # noqa: E402
from domains import actions  # noqa: E402
from tests.dns.nameserver import Nameserver, free_port  # noqa: E402

RUNS = 5


def main() -> None:
    if not shutil.which("nsd"):
        print("\n  DNS checks: skipped (needs Debian's nsd: apt-get install nsd)")
        return
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    port = free_port()
    with override_settings(MAIL_HOSTNAME="mail.bench0.example", MAIL_PUBLIC_ADDRESSES=["192.0.2.10"]):
        fresh_database()
        domains = []
        for n in range(count):
            domain = actions.create_domain(f"bench{n}.example", actor=COMMAND_LINE)
            actions.activate_dkim_key(
                actions.create_dkim_key(domain, actor=COMMAND_LINE, selector="s1"),
                actor=COMMAND_LINE,
                unpublished_ok=True,  # the benchmark publishes it in the zone it serves
            )
            domains.append(domain)
        server = Nameserver(Path(tempfile.mkdtemp(prefix="mailadmin-bench-nsd-")), port)
        records = []
        for domain in domains:
            domain_records = records_for(domain)
            records += domain_records
            server.add_zone(domain.name, zone_text(domain.name, domain_records))
        server.add_zone("2.0.192.in-addr.arpa", "$TTL 3600\n10 IN PTR mail.bench0.example.\n")
        server.start()
        try:
            times, results = [], []
            for _ in range(RUNS):
                resolver = Lookup(["127.0.0.1"], port=port, timeout=2)
                direct = Lookup(["127.0.0.1"], port=port, timeout=2)
                started = time.perf_counter()
                results = check_all(records, resolver, mail_host_dns(), workers=16, direct=direct)
                times.append(time.perf_counter() - started)
        finally:
            server.stop()
    ok = sum(r.status == "ok" for r in results)
    print(f"\n  {'DNS checks against nsd on loopback':44} {'median s':>9} {'max s':>7}")
    print(
        f"  {f'{count} domains, {len(records)} records ({ok} ok)':44} {statistics.median(times):9.2f} {max(times):7.2f}"
    )
    print(f"  ({RUNS} runs; each record asked of the resolver and of the domain's own nameserver)")


if __name__ == "__main__":
    main()
