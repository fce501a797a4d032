#!/usr/bin/env python3
"""A private mail host on loopback: the real Dovecot, OpenSMTPD and Rspamd, configured only by
what the panel exports and installed only by the real helper.

Every daemon runs in a private mount namespace whose /etc/resolv.conf says 127.0.0.1, so no
DNS query leaves the machine (smtpd looks up the PTR of every client; Rspamd resolves map and
fuzzy hosts). OpenSMTPD's compiled-in queue and control socket (/var/spool/smtpd, /run) are
bind-mounted from the lab too. Needs root, like the daemons themselves.

Used as a module by the test fixtures, and as a script by the helper for its reload commands:
    lab.py LAB reload dovecot|rspamd | restart smtpd | smtpctl ARGS... | ns COMMAND...
Standard library only, like the helper that runs it.
"""

import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HOSTNAME = "mail.lab.test"
# Two labs can run side by side on one machine with their own MAILADMIN_LAB_DIR and this offset.
PORT_OFFSET = int(os.environ.get("MAILADMIN_LAB_PORT_OFFSET", "0"))
PORTS = {
    "imap": 10143,
    "imaps": 10993,
    "smtp": 10025,
    "submission": 10587,
    "smtps": 10465,
    "rspamd": 11433,
    "rspamd_controller": 11434,
    "rspamd_proxy": 11432,
    "relay": 10026,
}
PORTS = {name: port + PORT_OFFSET for name, port in PORTS.items()}
RSPAMD_CACHE = "/var/tmp/mailadmin-lab-rspamd-cache"
NOBODY = 65534
HERE = Path(__file__).resolve()


class Lab:
    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self.root = self.dir / "root"
        self.staging = self.dir / "staging"
        self.socket = self.dir / "helper.sock"
        self.tls = self.dir / "tls"
        self.vmail = self.dir / "vmail"
        self.logs = self.dir / "log"
        self.pids = self.dir / "pids"
        self.usage = self.dir / "usage"
        self.rspamd_vars = [
            f"--var=LOCAL_CONFDIR={self.root}/etc/rspamd",
            f"--var=DBDIR={self.dir}/rspamd/db",
            f"--var=RUNDIR={self.dir}/rspamd/run",
            f"--var=LOGDIR={self.logs}",
        ]

    # --- what the panel is told ---------------------------------------------------------

    def panel_settings(self) -> dict:
        """The Django settings that point the panel at this lab (for override_settings)."""
        return {
            "MAIL_HOSTNAME": HOSTNAME,
            "EXPORT_ROOT": self.root,
            "STAGING_DIR": self.staging,
            "HELPER_SOCKET": self.socket,
            "MAIL_HOST": self.mail_host(),
        }

    def mail_host(self) -> dict:
        """settings.MAIL_HOST for the panel: the production template, pointed at the lab."""
        return {
            "listen": ("127.0.0.1",),
            "smtp_port": PORTS["smtp"],
            "submission_port": PORTS["submission"],
            "smtps_port": PORTS["smtps"],
            "imap_port": PORTS["imap"],
            "imaps_port": PORTS["imaps"],
            "tls_cert": str(self.tls / "cert.pem"),
            "tls_key": str(self.tls / "key.pem"),
            "vmail_uid": NOBODY,
            "vmail_gid": NOBODY,
            "vmail_home": str(self.vmail),
            "lmtp_socket": str(self.dir / "dovecot/lmtp"),
            "rspamd_url": f"http://127.0.0.1:{PORTS['rspamd']}",
            "relay_host": f"smtp://127.0.0.1:{PORTS['relay']}",
            "dovecot_base_dir": str(self.dir / "dovecot/run"),
            "dovecot_state_dir": str(self.dir / "dovecot/state"),
            "dovecot_log_path": str(self.logs / "dovecot.log"),
            "auth_failure_delay": "0",
            "auth_penalty": False,
            "usage_dir": str(self.usage),
        }

    def helper_config(self) -> dict:
        me = [sys.executable, str(HERE), str(self.dir)]
        doveadm = ["doveadm", "-c", str(self.root / "etc/dovecot/dovecot.conf")]
        return {
            "root": str(self.root),
            "staging": str(self.staging),
            "socket": str(self.socket),
            "privileged": True,
            "keep_generations": 5,
            "rspamd_confdir": str(self.root / "etc/rspamd"),
            "check": {
                "smtpd": ["smtpd", "-n", "-f", "{smtpd_conf}"],
                "dovecot": ["doveconf", "-n", "-c", "{dovecot_conf}"],
                "rspamd": [
                    *me,
                    "ns",
                    "rspamadm",
                    "--var=LOCAL_CONFDIR={rspamd_confdir}",
                    *self.rspamd_vars[1:],
                    "configtest",
                    "-c",
                    "/etc/rspamd/rspamd.conf",
                ],
            },
            "reload": {
                "dovecot": [*me, "reload", "dovecot"],
                "smtpd_table": [*me, "smtpctl", "update", "table", "{table}"],
                "smtpd_restart": [*me, "restart", "smtpd"],
                "rspamd": [*me, "reload", "rspamd"],
            },
            "query": {
                "quota_all": [*doveadm, "-f", "tab", "quota", "get", "-A"],
                "quota_user": [*doveadm, "-f", "tab", "quota", "get", "-u", "{user}"],
                "queue": [*me, "smtpctl", "show", "queue"],
            },
            # The helper's own Python (a virtualenv under /root) is out of the mail user's reach.
            "usage": {"dir": str(self.usage), "user": "nobody", "python": "/usr/bin/python3"},
        }

    # --- setting up -----------------------------------------------------------------------

    def setup(self) -> None:
        if self.dir.exists():
            self.stop_all()
            shutil.rmtree(self.dir)
        for path in [
            self.root / "etc/rspamd/override.d",
            self.root / "etc/rspamd/local.d",
            self.staging,
            self.tls,
            self.vmail,
            self.logs,
            self.pids,
            self.dir / "dovecot/run",
            self.dir / "dovecot/state",
            self.dir / "rspamd/db",
            self.dir / "rspamd/run",
            self.dir / "smtpd/spool",
            self.dir / "smtpd/run",
            Path(RSPAMD_CACHE),
        ]:
            path.mkdir(parents=True, exist_ok=True)
        for path in [self.dir, *self.dir.parents][:-1]:
            if path.stat().st_mode & 0o005 != 0o005:
                path.chmod(path.stat().st_mode | 0o755)  # daemons' own users must reach their files
        os.chown(self.vmail, NOBODY, NOBODY)
        # As in production: the mail user writes, the panel's group (root's, here) reads.
        self.usage.mkdir()
        os.chown(self.usage, NOBODY, 0)
        self.usage.chmod(0o2750)
        for path in [self.dir / "rspamd/db", self.dir / "rspamd/run", self.logs, Path(RSPAMD_CACHE)]:
            shutil.chown(path, "_rspamd", "_rspamd")
        (self.dir / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        self.make_certificate()
        overrides = {
            "worker-normal.inc": f'bind_socket = "127.0.0.1:{PORTS["rspamd"]}";\ncount = 1;\n',
            "worker-controller.inc": f'bind_socket = "127.0.0.1:{PORTS["rspamd_controller"]}";\ncount = 1;\nsecure_ip = "127.0.0.1";\n',
            "worker-proxy.inc": f'enabled = false;\nbind_socket = "127.0.0.1:{PORTS["rspamd_proxy"]}";\n',
            "options.inc": f'dns {{\n  nameserver = ["127.0.0.1:53"];\n  timeout = 0.2s;\n  retransmits = 1;\n}}\nhs_cache_dir = "{RSPAMD_CACHE}/";\n',
        }
        for name, text in overrides.items():
            (self.root / "etc/rspamd/override.d" / name).write_text(text)
        (self.root / "etc/rspamd/local.d/fuzzy_check.conf").write_text("enabled = false;\n")
        (self.dir / "helper.json").write_text(json.dumps(self.helper_config(), indent=1))

    def make_certificate(self) -> None:
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTNAME)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName(HOSTNAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        (self.tls / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path = self.tls / "key.pem"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
            )
        )
        key_path.chmod(0o600)

    # --- running --------------------------------------------------------------------------

    def pid(self, name: str) -> int | None:
        try:
            pid = int((self.pids / f"{name}.pid").read_text())
        except (FileNotFoundError, ValueError):
            return None
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            return None
        return None if state == "Z" else pid

    def namespaced(self, argv: list[str], smtpd: bool = False) -> list[str]:
        return [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "--",
            sys.executable,
            str(HERE),
            str(self.dir),
            "_exec",
            "smtpd" if smtpd else "plain",
            *argv,
        ]

    def daemon_argv(self, name: str) -> list[str]:
        if name == "dovecot":
            # With smtpd's paths too: its sendmail (vacation replies, Sieve forwards) must reach the lab's smtpd.
            return self.namespaced(["dovecot", "-F", "-c", str(self.root / "etc/dovecot/dovecot.conf")], smtpd=True)
        if name == "smtpd":
            return self.namespaced(["smtpd", "-d", "-f", str(self.root / "etc/smtpd.conf")], smtpd=True)
        if name == "rspamd":
            return self.namespaced(
                ["rspamd", "-f", "-u", "_rspamd", "-g", "_rspamd", "-c", "/etc/rspamd/rspamd.conf", *self.rspamd_vars]
            )
        if name == "helper":
            return [
                sys.executable,
                str(HERE.parents[2] / "helper/helper.py"),  # this file also runs alone, as a wrapper script
                "--config",
                str(self.dir / "helper.json"),
            ]
        raise ValueError(name)

    def start(self, name: str) -> None:
        if self.pid(name):
            return
        log = open(self.logs / f"{name}.out", "ab")
        process = subprocess.Popen(
            self.daemon_argv(name),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        (self.pids / f"{name}.pid").write_text(str(process.pid))
        ready = {
            "dovecot": lambda: port_open(PORTS["imaps"]) and (self.dir / "dovecot/lmtp").exists(),
            "smtpd": lambda: port_open(PORTS["submission"]) and port_open(PORTS["smtp"]),
            "rspamd": lambda: rspamd_pong(),
            "helper": lambda: self.socket.exists(),
        }[name]
        deadline = time.monotonic() + (180 if name == "rspamd" else 20)
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (self.logs / f"{name}.out").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} did not start:\n{tail}")
            time.sleep(0.05)

    def stop(self, name: str) -> None:
        pid = self.pid(name)
        if pid:
            os.kill(pid, signal.SIGTERM)
            for _ in range(200):
                if not self.pid(name):
                    break
                time.sleep(0.05)
            else:
                os.kill(pid, signal.SIGKILL)
        (self.pids / f"{name}.pid").unlink(missing_ok=True)

    def stop_all(self) -> None:
        if self.pids.exists():
            for name in ["smtpd", "dovecot", "rspamd", "helper"]:
                self.stop(name)

    def reload(self, name: str) -> int:
        """Reload a running daemon; a daemon that is not running yet has nothing to reload."""
        pid = self.pid(name)
        if not pid:
            return 0
        if name == "dovecot":
            return subprocess.run(["doveadm", "-c", str(self.root / "etc/dovecot/dovecot.conf"), "reload"]).returncode
        if name == "rspamd":
            log = self.logs / "rspamd.log"
            before = log.read_text(errors="replace").count("starting normal process") if log.exists() else 0
            os.kill(pid, signal.SIGHUP)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if (
                    log.exists()
                    and log.read_text(errors="replace").count("starting normal process") > before
                    and rspamd_pong()
                ):
                    return 0
                time.sleep(0.05)
            return 1
        raise ValueError(name)

    def smtpctl(self, *args: str) -> subprocess.CompletedProcess:
        pid = self.pid("smtpd")
        if not pid:
            return subprocess.CompletedProcess(args, 0, "", "")
        return subprocess.run(["nsenter", "-t", str(pid), "-m", "smtpctl", *args], capture_output=True, text=True)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def rspamd_pong() -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORTS['rspamd']}/ping", timeout=1) as response:
            return b"pong" in response.read()
    except OSError:
        return False


def exec_in_namespace(lab: Lab, kind: str, argv: list[str]) -> None:
    """Inside `unshare -m`: point resolv.conf (and smtpd's compiled-in paths) at the lab, then exec."""
    subprocess.run(["mount", "--bind", str(lab.dir / "resolv.conf"), "/etc/resolv.conf"], check=True)
    if kind == "smtpd":
        subprocess.run(["mount", "--bind", str(lab.dir / "smtpd/spool"), "/var/spool"], check=True)
        subprocess.run(["mount", "--bind", str(lab.dir / "smtpd/run"), "/run"], check=True)
        # smtpd checks passwords through PAM: the helper's /etc/pam.d/smtpd, under the lab's root.
        if (lab.root / "etc/pam.d").is_dir():
            subprocess.run(["mount", "--bind", str(lab.root / "etc/pam.d"), "/etc/pam.d"], check=True)
    os.execvp(argv[0], argv)


def main(argv: list[str]) -> int:
    lab, command, args = Lab(Path(argv[0])), argv[1], argv[2:]
    if command == "_exec":
        exec_in_namespace(lab, args[0], args[1:])
    if command == "ns":
        argv = lab.namespaced(args)
        os.execvp(argv[0], argv)
    if command == "reload":
        return lab.reload(args[0])
    if command == "restart":
        if lab.pid(args[0]):
            lab.stop(args[0])
            lab.start(args[0])
        return 0
    if command == "smtpctl":
        result = lab.smtpctl(*args)
        sys.stdout.write(result.stdout + result.stderr)
        return result.returncode
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
