"""The settings the panel gives mail clients (autoconfig, autodiscover, the Apple profile) log in
to the real Dovecot and OpenSMTPD: every server, port and TLS mode, with the address as user."""

import imaplib
import plistlib
import smtplib
import ssl
from xml.etree import ElementTree as ET

import pytest
from django.test import Client

from accounts import actions
from accounts.clientsetup import OUTLOOK_NS
from audit.log import COMMAND_LINE
from domains.actions import create_domain
from tests.daemons.conftest import apply_now
from tests.daemons.lab import HOSTNAME
from tests.helpers import mailbox_client
from tests.test_client_setup import autodiscover_request

pytestmark = pytest.mark.daemon
PASSWORD = "client setup password"


def logs_in(lab, protocol: str, host: str, port: int, security: str, user: str) -> bool:
    context = ssl.create_default_context(cafile=str(lab.tls / "cert.pem"))  # checks the host name too
    if protocol == "imap":
        if security == "SSL":
            imap = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=_named(context, host), timeout=10)
        else:
            imap = imaplib.IMAP4("127.0.0.1", port, timeout=10)
            imap.starttls(_named(context, host))
        with imap:
            return imap.login(user, PASSWORD)[0] == "OK"
    if security == "SSL":
        smtp = smtplib.SMTP_SSL("127.0.0.1", port, context=_named(context, host), timeout=10)
    else:
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=10)
        smtp.starttls(context=_named(context, host))
    with smtp:
        return smtp.login(user, PASSWORD)[0] == 235


def _named(context: ssl.SSLContext, host: str) -> ssl.SSLContext:
    """Connect to loopback but check the certificate for `host`, as a client given that name would."""
    wrap = context.wrap_socket

    def wrap_socket(sock, *args, server_hostname=None, **kwargs):
        return wrap(sock, *args, server_hostname=host, **kwargs)

    context.wrap_socket = wrap_socket
    return context


def test_every_server_the_panel_advertises_takes_the_mailbox_login(lab, settings):
    settings.ALLOWED_HOSTS = ["testserver", "autoconfig.example.org"]
    settings.MAIL_HOSTNAME = HOSTNAME  # the name the lab's certificate is for
    domain = create_domain("example.org", actor=COMMAND_LINE)
    actions.create_mailbox(domain, "alice", PASSWORD, actor=COMMAND_LINE)
    apply_now()
    address = "alice@example.org"

    autoconfig = ET.fromstring(Client().get("/mail/config-v1.1.xml", {"emailaddress": address}).content)
    advertised = []
    for server in autoconfig.find("emailProvider"):
        if server.tag in ("incomingServer", "outgoingServer"):
            user = server.findtext("username").replace("%EMAILADDRESS%", address)
            fields = (server.findtext("hostname"), int(server.findtext("port")), server.findtext("socketType"))
            advertised.append((server.get("type"), *fields, user))
    assert len(advertised) == 4
    for protocol, host, port, security, user in advertised:
        assert logs_in(lab, protocol, host, port, security, user), (protocol, port, security)

    answer = Client().post("/autodiscover/autodiscover.xml", autodiscover_request(address), content_type="text/xml")
    account = ET.fromstring(answer.content).find(f"{{{OUTLOOK_NS}}}Response/{{{OUTLOOK_NS}}}Account")
    for entry in account.findall(f"{{{OUTLOOK_NS}}}Protocol"):
        get = lambda tag, e=entry: e.findtext(f"{{{OUTLOOK_NS}}}{tag}")  # noqa: E731
        assert logs_in(lab, get("Type").lower(), get("Server"), int(get("Port")), "SSL", get("LoginName"))

    profile = plistlib.loads(mailbox_client(address, PASSWORD).get("/account/mail.mobileconfig").content)
    mail = profile["PayloadContent"][0]
    assert logs_in(
        lab, "imap", mail["IncomingMailServerHostName"], mail["IncomingMailServerPortNumber"], "SSL", address
    )
    assert logs_in(
        lab, "smtp", mail["OutgoingMailServerHostName"], mail["OutgoingMailServerPortNumber"], "SSL", address
    )
