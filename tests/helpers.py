"""What tests share besides fixtures: passwords, signed-in clients, htmx headers, the real helper."""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.test import Client

from accounts.models import User

ROOT = Path(__file__).resolve().parents[1]
HELPER = ROOT / "helper/helper.py"

PASSWORD = "correct horse battery staple"
MAIL_PASSWORD = "mail password 4 alice"

HTMX = {"HTTP_HX_REQUEST": "true"}


def htmx(target: str | None = None) -> dict:
    return HTMX | ({"HTTP_HX_TARGET": target} if target else {})


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
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
