"""Personas and the objects they act on. Each test builds what it needs from these."""

import pytest
from django.test import Client

from accounts import actions
from accounts.models import Mailbox, User
from audit.log import COMMAND_LINE
from domains.actions import create_domain
from domains.models import Domain

PASSWORD = "correct horse battery staple"
MAIL_PASSWORD = "mail password 4 alice"


@pytest.fixture(autouse=True)
def _test_defaults(settings) -> None:
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


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def mailbox_client(address: str, password: str = MAIL_PASSWORD) -> Client:
    client = Client()
    response = client.post("/login/", {"username": address, "password": password})
    assert response.status_code == 302 and response["Location"] == "/account/", response.content
    return client


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


HTMX = {"HTTP_HX_REQUEST": "true"}


def htmx(target: str | None = None) -> dict:
    return HTMX | ({"HTTP_HX_TARGET": target} if target else {})
