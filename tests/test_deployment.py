"""The docker-compose stack is valid and lines up with the paths the exporters and the helper use."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helper.helper import LINKS

ROOT = Path(__file__).resolve().parents[1]
ENV = {"SECRET_KEY": "s", "DKIM_ENCRYPTION_KEY": "k", "ALLOWED_HOSTS": "a.example", "MAIL_HOSTNAME": "mail.example.org"}


@pytest.fixture(scope="module")
def compose() -> dict:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: scripts/test installs Debian's docker-compose"
    result = subprocess.run(
        [binary, "--profile", "postgres", "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], **ENV},
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_the_stack_has_every_part(compose):
    assert set(compose["services"]) == {"panel", "worker", "mail", "postgres"}  # no Redis: nothing uses one
    assert compose["services"]["postgres"]["profiles"] == ["postgres"]
    ports = {p["target"] for p in compose["services"]["mail"]["ports"]}
    assert ports == {25, 465, 587, 993}
    for service in ["panel", "mail", "postgres"]:
        assert compose["services"][service]["healthcheck"]


def test_it_refuses_to_start_without_its_secrets():
    result = subprocess.run(
        ["docker-compose", "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]} | {k: v for k, v in ENV.items() if k != "SECRET_KEY"},
    )
    assert result.returncode != 0 and "set SECRET_KEY in .env" in result.stderr


def mounts(service: dict) -> dict[str, str]:
    """{target: source} from either long (dict) or short ("source:target[:mode]") volume syntax."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found[volume["target"]] = volume["source"]
        else:
            source, target = volume.split(":")[:2]
            found[target] = source
    return found


def test_paths_and_sockets_line_up_with_the_helper(compose):
    helper = json.loads((ROOT / "docker/helper.json").read_text())
    panel, worker, mail = (compose["services"][name] for name in ["panel", "worker", "mail"])
    for service in (panel, worker):
        env = service["environment"]
        assert env["EXPORT_ROOT"] == helper["root"]
        assert env["STAGING_DIR"] == helper["staging"]
        assert env["HELPER_SOCKET"] == helper["socket"]
        assert mounts(service)[helper["staging"]] == mounts(mail)[helper["staging"]] == "staging"
    socket_dir = str(Path(helper["socket"]).parent)
    sharing = [name for name, s in compose["services"].items() if mounts(s).get(socket_dir) == "helper-socket"]
    assert sorted(sharing) == ["mail", "panel", "worker"]  # the helper socket reaches nothing else
    assert mounts(mail)["/etc/mailadmin"] == "config"  # generations and "current" survive a new container
    assert mounts(mail)["/home/vmail"] == "mail"
    assert all(not rel.startswith("etc/mailadmin") for rel in LINKS)  # links are remade by the helper at start
    panel_uid = "--uid 999" in (ROOT / "docker/panel.Dockerfile").read_text()
    assert panel_uid and helper["allowed_uids"] == [999]
    assert panel["environment"]["MAIL_TLS_CERT"].startswith("/etc/mailadmin/tls/") and "/etc/mailadmin/tls" in mounts(
        mail
    )


def test_the_mail_image_installs_the_daemons_with_the_script_ci_uses():
    dockerfile = (ROOT / "docker/mail.Dockerfile").read_text()
    assert "scripts/install-daemons" in dockerfile
    assert "bash scripts/install-daemons" in (ROOT / "scripts/test").read_text()
