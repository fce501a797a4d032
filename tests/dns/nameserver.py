"""A real authoritative nameserver (Debian's nsd) on loopback, serving zones a test writes."""

import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

PORT = 5353
SOA = "@ 3600 IN SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 300\n@ 3600 IN NS ns.{origin}.\nns 3600 IN A 127.0.0.1\n"


class Nameserver:
    def __init__(self, directory: Path, port: int = PORT) -> None:
        self.dir, self.port = directory, port
        self.zones: dict[str, str] = {}
        self.process: subprocess.Popen | None = None

    def add_zone(self, origin: str, text: str, with_soa: bool = True) -> None:
        """A zone as the test wants it served; the panel's export has no SOA or NS, as registrars keep those."""
        header = f"$ORIGIN {origin}.\n" + (SOA.format(origin=origin) if with_soa else "")
        self.zones[origin] = header + text

    def start(self) -> None:
        assert shutil.which("nsd"), "nsd is missing: scripts/test installs Debian's nsd"
        self.stop()
        self.dir.mkdir(parents=True, exist_ok=True)
        config = [
            "server:",
            f"  ip-address: 127.0.0.1@{self.port}",
            "  do-ip6: no",
            '  username: ""',
            '  chroot: ""',
            f'  zonesdir: "{self.dir}"',
            f'  pidfile: "{self.dir}/nsd.pid"',
            f'  logfile: "{self.dir}/nsd.log"',
            f'  zonelistfile: "{self.dir}/zone.list"',
            f'  xfrdfile: "{self.dir}/xfrd.state"',
            f'  xfrdir: "{self.dir}"',
            '  database: ""',
            "  server-count: 1",
            "  hide-version: yes",
            "remote-control:",
            "  control-enable: no",
        ]
        for origin, text in self.zones.items():
            (self.dir / f"{origin}.zone").write_text(text)
            config += ["zone:", f"  name: {origin}", f"  zonefile: {origin}.zone"]
        (self.dir / "nsd.conf").write_text("\n".join(config) + "\n")
        check = subprocess.run(["nsd-checkconf", str(self.dir / "nsd.conf")], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen(
            ["nsd", "-d", "-c", str(self.dir / "nsd.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while not self.answers():
            assert self.process.poll() is None and time.monotonic() < deadline, (self.dir / "nsd.log").read_text()
            time.sleep(0.05)

    def answers(self) -> bool:
        import dns.message
        import dns.query

        origin = next(iter(self.zones))
        try:
            dns.query.udp(dns.message.make_query(origin + ".", "SOA"), "127.0.0.1", timeout=0.2, port=self.port)
            return True
        except Exception:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


def free_port() -> int:
    """A loopback port free for both UDP and TCP (nsd binds both), chosen below the kernel's
    ephemeral range, where a database client's outgoing connection could take it meanwhile."""
    while True:
        port = random.randrange(20000, 32000)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
                udp.bind(("127.0.0.1", port))
                tcp.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
