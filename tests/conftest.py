"""Personas and the objects they act on. Each test builds what it needs from these."""

import pytest
from django.test import Client

from accounts import actions
from accounts.models import Mailbox, User
from audit.log import COMMAND_LINE
from domains.actions import create_domain
from domains.models import Domain
from tests.helpers import MAIL_PASSWORD, PASSWORD, client_for, helper_process, mailbox_client, sandbox_config

# The real-daemon lab (lab, outside, ...), one per session for tests/daemons and tests/browser alike.
pytest_plugins = ["tests.daemons.fixtures"]


@pytest.fixture(autouse=True)
def _test_defaults(settings) -> None:
    # Admin passwords hash with Argon2 in production (~90 ms each); tests that do not test hashing
    # use a fast hasher. test_login.py checks the production hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LOGIN_FAILURES_PER_ACCOUNT = 5
    settings.LOGIN_FAILURES_PER_CLIENT = 20
    # No DNS query may leave the machine: checks go to a loopback port where nothing listens,
    # unless a test points them at its own nameserver.
    settings.DNS_RESOLVERS = ["127.0.0.1"]
    settings.DNS_PORT = 9
    settings.DNS_AUTHORITATIVE_PORT = 9
    settings.DNS_TIMEOUT = 0.5
    settings.MAIL_HOSTNAME = "mail.example.org"
    settings.MAIL_PUBLIC_ADDRESSES = ["192.0.2.10", "2001:db8::10"]


@pytest.fixture
def domain(db) -> Domain:
    return create_domain("example.org", actor=COMMAND_LINE)


@pytest.fixture
def other_domain(db) -> Domain:
    return create_domain("other.example", actor=COMMAND_LINE)


@pytest.fixture
def superadmin(db) -> User:
    return actions.create_admin("root", PASSWORD, actor=COMMAND_LINE, superadmin=True)


@pytest.fixture
def domain_admin(domain) -> User:
    return actions.create_admin("dora", PASSWORD, actor=COMMAND_LINE, superadmin=False, domains=[domain])


@pytest.fixture
def other_domain_admin(other_domain) -> User:
    return actions.create_admin("otto", PASSWORD, actor=COMMAND_LINE, superadmin=False, domains=[other_domain])


@pytest.fixture
def mailbox(domain) -> Mailbox:
    return actions.create_mailbox(domain, "alice", MAIL_PASSWORD, actor=COMMAND_LINE, display_name="Alice Liddell")


@pytest.fixture
def superadmin_client(superadmin) -> Client:
    return client_for(superadmin)


@pytest.fixture
def domain_admin_client(domain_admin) -> Client:
    return client_for(domain_admin)


@pytest.fixture
def other_domain_admin_client(other_domain_admin) -> Client:
    return client_for(other_domain_admin)


@pytest.fixture
def mailbox_user_client(mailbox) -> Client:
    return mailbox_client("alice@example.org")


@pytest.fixture
def sandbox_helper(tmp_path, settings):
    """The real helper, unprivileged, against a sandbox root (as in development); yields the root."""
    settings.EXPORT_ROOT = tmp_path / "root"
    settings.STAGING_DIR = tmp_path / "staging"
    settings.HELPER_SOCKET = tmp_path / "helper.sock"
    config = sandbox_config(settings.EXPORT_ROOT, settings.STAGING_DIR, settings.HELPER_SOCKET)
    with helper_process(config, tmp_path / "helper.json"):
        yield settings.EXPORT_ROOT
