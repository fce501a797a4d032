"""The real mail host, started once per test session: the tests in this folder and the browser
tests that follow a change through to the daemons use it. tests/conftest.py loads this module
as a plugin (pytest_plugins), so there is one session lab however many folders run; imported
into two conftest files, each would start its own."""

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.test import override_settings

from core.mailhost import host_config
from export import helper_client
from export.apply import apply_pending
from export.render import render
from export.snapshot import Snapshot
from export.stage import stage
from tests.daemons.lab import PORTS, Lab
from tests.daemons.sink import Sink

LAB_DIR = Path(os.environ.get("MAILADMIN_LAB_DIR", "/tmp/mailadmin-lab"))
DAEMONS = ["dovecot", "doveadm", "doveconf", "smtpd", "smtpctl", "rspamd", "rspamadm", "unshare", "nsenter"]


@pytest.fixture(scope="session")
def mail_lab(django_db_blocker):
    assert os.geteuid() == 0, "the real daemons need root: run the tests as root (CI does)"
    missing = [name for name in DAEMONS if not shutil.which(name)]
    assert not missing, f"missing daemons {missing}: run scripts/install-daemons (scripts/test does)"
    assert glob.glob("/usr/lib/*/security/pam_pwdfile.so") or glob.glob("/lib/*/security/pam_pwdfile.so"), (
        "pam_pwdfile (libpam-pwdfile) is missing: run scripts/install-daemons"
    )
    assert b"OpenSMTPD 7." in subprocess.run(["smtpd", "-h"], capture_output=True).stderr, "OpenSMTPD 7.x is needed"
    lab = Lab(LAB_DIR)
    lab.setup()
    settings = override_settings(**lab.panel_settings())
    settings.enable()
    try:
        lab.start("helper")
        # The daemons start from a first generation, as on a new host.
        stage(1_000_000, render(Snapshot(), host_config()))
        answer = helper_client.call({"op": "apply", "generation": 1_000_000})
        assert answer["ok"], answer
        for name in ["rspamd", "dovecot", "smtpd"]:
            lab.start(name)
        yield lab
    finally:
        lab.stop_all()
        settings.disable()


@pytest.fixture
def lab(mail_lab, db):
    return mail_lab


def apply_now():
    generation = apply_pending(force=True, requested_by="test")
    assert generation is not None and generation.ok, generation and generation.error
    return generation


@pytest.fixture(scope="session")
def relay_sink(mail_lab):
    # One for the whole session: smtpd keeps its relay connections open between messages.
    sink = Sink(PORTS["relay"])
    yield sink
    sink.stop()


@pytest.fixture
def outside(lab, relay_sink):
    """Whatever OpenSMTPD relays out to the world lands here (the lab's relay host)."""
    relay_sink.messages.clear()
    return relay_sink
