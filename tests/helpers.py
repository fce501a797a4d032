"""What tests share besides fixtures: passwords, signed-in clients, htmx headers, form data,
operator commands, the real helper."""

import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.management import call_command
from django.test import Client

from accounts.models import User
from accounts.recent import SIGNED_IN_AT

ROOT = Path(__file__).resolve().parents[1]
HELPER = ROOT / "helper/helper.py"

PASSWORD = "correct horse battery staple"
MAIL_PASSWORD = "mail password 4 alice"

HTMX = {"HTTP_HX_REQUEST": "true"}


def htmx(target: str | None = None) -> dict:
    return HTMX | ({"HTTP_HX_TARGET": target} if target else {})


def client_for(user: User) -> Client:
    """Signed in as this admin, just now (as a sign-in through the form leaves the session)."""
    client = Client()
    client.force_login(user)
    session = client.session
    session[SIGNED_IN_AT] = time.time()
    session.save()
    return client


def mailbox_client(address: str, password: str = MAIL_PASSWORD) -> Client:
    client = Client()
    response = client.post("/login/", {"username": address, "password": password})
    assert response.status_code == 302 and response["Location"] == "/account/", response.content
    return client


@contextmanager
def helper_process(config: dict, config_path: Path, stdout: int = subprocess.DEVNULL) -> Iterator[subprocess.Popen]:
    """The real helper (helper/helper.py) with this configuration, until the block ends."""
    config_path.write_text(json.dumps(config))
    process = subprocess.Popen([sys.executable, str(HELPER), "--config", str(config_path)], stdout=stdout)
    try:
        deadline = time.monotonic() + 10
        while not Path(config["socket"]).exists():
            assert process.poll() is None and time.monotonic() < deadline, "the helper did not start"
            time.sleep(0.02)
        yield process
    finally:
        process.terminate()
        process.wait()


def sandbox_config(root: Path, staging: Path, socket: Path) -> dict:
    """The helper's configuration in development and tests: unprivileged, against a sandbox root."""
    return {"root": str(root), "staging": str(staging), "socket": str(socket), "privileged": False}


# The DNS policy form as a new domain has it (the guide's defaults): tests change one field.
POLICY_FORM = {
    "mx_hosts": "",
    "spf_mechanisms": "mx",
    "spf_all": "-all",
    "dmarc_p": "reject",
    "dmarc_sp": "reject",
    "dmarc_pct": "100",
    "dmarc_aspf": "s",
    "dmarc_adkim": "s",
    "dmarc_fo": "1",
    "mta_sts_mode": "testing",
    "mta_sts_max_age": "86400",
}


def run_command(*args: str, stdin: str = "") -> str:
    """An operator command as typed, with `stdin` as its standard input; what it printed."""
    out, old = io.StringIO(), sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=out)
    finally:
        sys.stdin = old
    return out.getvalue()
