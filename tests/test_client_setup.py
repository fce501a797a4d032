"""One-click mail client set-up: Thunderbird's autoconfig, Outlook's autodiscover and an Apple
profile, each with the servers, ports and security the daemons are configured with.

Each format is read by something we did not write:
- autoconfig and autodiscover by Thunderbird's own account set-up code (tests/data/thunderbird/,
  copied unchanged from Thunderbird's source), which fetches them from the panel itself;
- autoconfig also by the RELAX NG schema of the format's specification (tests/data/autoconfig.rng);
- the Apple profile by plistlib, against Apple's published schema of the profile and of the
  com.apple.mail.managed payload (tests/data/apple/).
"""

import datetime
import plistlib
import queue
import shutil
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from xml.etree import ElementTree as ET

import pytest
import yaml
from django.test import Client
from lxml import etree
from playwright.sync_api import sync_playwright
from pytest_django.asserts import assertContains

from accounts.clientsetup import OUTLOOK_NS, REQUEST_NS
from audit.log import COMMAND_LINE
from core.mailhost import host_config
from domains.actions import create_domain, update_domain

DATA = Path(__file__).parent / "data"


@pytest.fixture
def hosts(settings):
    settings.ALLOWED_HOSTS = [
        "testserver",
        "autoconfig.example.org",
        "autodiscover.example.org",
        "example.org",
        "example.net",
    ]
    settings.MAIL_HOST = {"imaps_port": 10993, "smtps_port": 10465, "imap_port": 10143, "submission_port": 10587}


# --- Thunderbird's own reader -------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [  # as tests/browser/conftest.py, and no same-origin rule: the harness page
    "--no-sandbox",  # fetches from every host Thunderbird asks, all answered by page.route
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-web-security",
]
HARNESS = "https://thunderbird.test/harness.html"
# Modules Thunderbird's code imports that tests/data/thunderbird/stubs.mjs stands in for.
STUBBED = {
    "AddonManager.sys.mjs",
    "DNS.sys.mjs",
    "GuessConfig.sys.mjs",
    "MailStringUtils.sys.mjs",
    "OAuth2Module.sys.mjs",
    "OAuth2Providers.sys.mjs",
    "Timer.sys.mjs",
}


class Thunderbird:
    """Thunderbird's account set-up code in headless Chromium. Every request it makes to a mail
    host is answered by the panel, through Django's test client in the test's own thread (where
    the test database is). Playwright runs in a thread of its own: its sync API allows one
    instance per thread, and the browser tests may be holding the main thread's."""

    def __init__(self):
        self.requests = []  # (method, URL without credentials, status the panel answered)
        self.page_errors = []
        self._jobs = queue.Queue()
        self._events = queue.Queue()
        self._thread = threading.Thread(target=self._browse, daemon=True)
        self._thread.start()
        self._wait()
        assert not self.page_errors, f"harness.html did not load: {self.page_errors}"

    def _browse(self):
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.on("pageerror", lambda error: self.page_errors.append(str(error)))
                page.route("**/*", self._route)
                page.goto(HARNESS)
                page.wait_for_function("window.thunderbirdReady === true", timeout=10_000)
                self._events.put(("done", None))
                while (expression := self._jobs.get()) is not None:
                    self._events.put(("done", page.evaluate(expression)))
                browser.close()
        except Exception as error:  # handed to the test's thread
            self._events.put(("failed", error))

    def _route(self, route, request):
        url = urlsplit(request.url)
        if url.scheme == "resource" or url.hostname == "thunderbird.test":
            name = url.path.rsplit("/", 1)[1]
            path = DATA / "thunderbird" / ("stubs.mjs" if name in STUBBED else name)
            if not path.is_file():
                return route.fulfill(status=404, body=f"tests/data/thunderbird has no {name}")
            content_type = "text/html" if path.suffix == ".html" else "text/javascript"
            return route.fulfill(status=200, content_type=content_type, body=path.read_bytes())
        reply = queue.Queue()
        self._events.put(
            ("request", (request.method, request.url, request.post_data_buffer or b"", request.headers), reply)
        )
        status, headers, body = reply.get(timeout=30)
        route.fulfill(status=status, headers=headers, body=body)

    def _answer(self, method, url, body, headers):
        parts = urlsplit(url)
        response = Client().generic(
            method,
            urlunsplit(("", "", parts.path, parts.query, "")),
            body,
            content_type=headers.get("content-type", ""),
            secure=parts.scheme == "https",
            HTTP_HOST=parts.hostname,
        )
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        self.requests.append(
            (method, urlunsplit((parts.scheme, host, parts.path, parts.query, "")), response.status_code)
        )
        return (
            response.status_code,
            {k: v for k, v in response.items() if k.lower() == "content-type"},
            response.content,
        )

    def _wait(self):
        while True:
            kind, value, *reply = self._events.get(timeout=60)
            if kind == "request":
                try:
                    answer = self._answer(*value)
                except BaseException:
                    reply[0].put((500, {}, b""))  # let the browser's thread go on, then fail the test
                    raise
                reply[0].put(answer)
            elif kind == "failed":
                raise AssertionError(f"Thunderbird's code did not run: {value}; page errors: {self.page_errors}")
            else:
                return value

    def run(self, expression: str) -> dict:
        self.requests.clear()
        self._jobs.put(expression)
        return self._wait()  # Thunderbird's calls that lost the race end as page errors: not ours to judge

    def close(self):
        self._jobs.put(None)
        self._thread.join(timeout=30)


@pytest.fixture(scope="module")
def thunderbird():
    assert shutil.which(CHROMIUM), "Chromium is missing: install Debian's chromium (scripts/test does)"
    browser = Thunderbird()
    yield browser
    browser.close()


def server(type_, port, socket_type, username, host="mail.example.org"):
    """A server as Thunderbird's AccountConfig holds it (harness.html names its enums)."""
    return {
        "type": type_,
        "hostname": host,
        "port": port,
        "socketType": socket_type,
        "auth": "passwordCleartext",
        "username": username,
    }


# --- Thunderbird autoconfig -----------------------------------------------------------------


@pytest.mark.browser
def test_thunderbird_finds_the_servers_the_daemons_listen_on(hosts, domain, thunderbird):
    found = thunderbird.run("thunderbird.autoconfig('example.org', 'alice@example.org')")
    assert "error" not in found, found
    config = found["config"]
    # The first place Thunderbird asks, autoconfig.<domain> over HTTPS, answered.
    assert config["source"] == "xml-from-isp-https" and config["complete"]
    assert config["domains"] == ["example.org"]
    assert config["incoming"] == [
        server("imap", 10993, "SSL", "%EMAILADDRESS%"),
        server("imap", 10143, "STARTTLS", "%EMAILADDRESS%"),
    ]
    assert config["outgoing"] == [
        server("smtp", 10465, "SSL", "%EMAILADDRESS%"),
        server("smtp", 10587, "STARTTLS", "%EMAILADDRESS%"),
    ]
    # Both HTTPS addresses Thunderbird tries are answered, with the address it sends.
    asked = {url: status for method, url, status in thunderbird.requests if url.startswith("https:")}
    assert asked == {
        "https://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=alice%40example.org": 200,
        "https://example.org/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice%40example.org": 200,
    }


def test_the_autoconfig_answer_is_valid_by_the_specifications_schema(hosts, domain):
    response = Client().get(
        "/mail/config-v1.1.xml", {"emailaddress": "alice@example.org"}, HTTP_HOST="autoconfig.example.org"
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    schema = etree.RelaxNG(etree.parse(DATA / "autoconfig.rng"))
    document = etree.fromstring(response.content)
    assert schema.validate(document), schema.error_log
    assert document.get("version") == "1.1"
    well_known = Client().get("/.well-known/autoconfig/mail/config-v1.1.xml", HTTP_HOST="autoconfig.example.org")
    assert well_known.content == response.content
    # The schema is the format's must-ignore grammar: it is strict where it says anything.
    (port,) = document.xpath("//incomingServer[socketType='SSL']/port")
    port.text = "imaps"
    assert not schema.validate(document)


def test_only_domains_this_host_receives_mail_for_get_an_answer(hosts, domain):
    client = Client()
    assert client.get("/mail/config-v1.1.xml", {"emailaddress": "x@unknown.example"}).status_code == 404
    create_domain("example.net", actor=COMMAND_LINE, alias_of=domain)
    assert client.get("/.well-known/autoconfig/mail/config-v1.1.xml", HTTP_HOST="example.net").status_code == 200
    assert client.get("/mail/config-v1.1.xml", {"emailaddress": "x@example.net"}).status_code == 200
    update_domain(domain, actor=COMMAND_LINE, active=False)
    assert client.get("/mail/config-v1.1.xml", {"emailaddress": "x@example.net"}).status_code == 404


# --- Outlook autodiscover (POX) -------------------------------------------------------------


def autodiscover_request(address: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{REQUEST_NS}">'
        f"<Request><EMailAddress>{address}</EMailAddress>"
        f"<AcceptableResponseSchema>{OUTLOOK_NS}</AcceptableResponseSchema></Request></Autodiscover>"
    ).encode()


@pytest.mark.browser
def test_thunderbird_reads_the_autodiscover_answer(hosts, domain, thunderbird):
    found = thunderbird.run("thunderbird.autodiscover('example.org', 'alice@example.org')")
    # Thunderbird posted its own request to autodiscover.<domain> first, and the panel answered it.
    posted = [(url, status) for method, url, status in thunderbird.requests if method == "POST"]
    assert posted[0] == ("https://autodiscover.example.org/autodiscover/autodiscover.xml", 200)
    assert "error" not in found, found
    config = found["config"]
    assert config["source"] == "exchange-from-url1" and config["complete"]
    assert config["incoming"] == [server("imap", 10993, "SSL", "alice@example.org")]
    assert config["outgoing"] == [server("smtp", 10465, "SSL", "alice@example.org")]


def test_outlook_gets_imap_and_smtp_with_the_address_as_login(hosts, domain):
    response = Client().post(
        "/autodiscover/autodiscover.xml",
        autodiscover_request("Alice@Example.org"),
        content_type="text/xml",
        HTTP_HOST="autodiscover.example.org",
    )
    assert response.status_code == 200
    account = ET.fromstring(response.content).find(f"{{{OUTLOOK_NS}}}Response/{{{OUTLOOK_NS}}}Account")
    assert account.findtext(f"{{{OUTLOOK_NS}}}Action") == "settings"
    protocols = {
        p.findtext(f"{{{OUTLOOK_NS}}}Type"): {child.tag.split("}")[1]: child.text for child in p}
        for p in account.findall(f"{{{OUTLOOK_NS}}}Protocol")
    }
    assert (protocols["IMAP"]["Server"], protocols["IMAP"]["Port"], protocols["IMAP"]["SSL"]) == (
        "mail.example.org",
        "10993",
        "on",
    )
    assert (protocols["SMTP"]["Port"], protocols["SMTP"]["LoginName"]) == ("10465", "alice@example.org")
    capitalised = Client().post(
        "/Autodiscover/Autodiscover.xml", autodiscover_request("alice@example.org"), content_type="text/xml"
    )
    assert capitalised.status_code == 200


def test_autodiscover_refuses_entities_and_unknown_domains(hosts, domain):
    laughs = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxx">]><a>&x;</a>'
    assert Client().post("/autodiscover/autodiscover.xml", laughs, content_type="text/xml").status_code == 404
    unknown = autodiscover_request("bob@unknown.example")
    assert Client().post("/autodiscover/autodiscover.xml", unknown, content_type="text/xml").status_code == 404


# --- Apple configuration profile ------------------------------------------------------------

# How Apple's schema (tests/data/apple/, from apple/device-management) names plist types.
PLIST_TYPES = {
    "<string>": str,
    "<integer>": int,
    "<boolean>": bool,
    "<real>": float,
    "<array>": list,
    "<dictionary>": dict,
    "<data>": bytes,
    "<date>": datetime.datetime,
}


def apple_keys(*names: str) -> dict[str, dict]:
    keys = {}
    for name in names:
        for key in yaml.safe_load((DATA / "apple" / f"{name}.yaml").read_text())["payloadkeys"]:
            keys[key["key"]] = key
    return keys


def against_apple_schema(payload: dict, keys: dict[str, dict]) -> list[str]:
    """What Apple's schema says is wrong with a payload: unknown keys, wrong types, values
    outside the documented range, missing required keys."""
    wrong = []
    for name, value in payload.items():
        if name not in keys:
            wrong.append(f"{name}: not a key Apple documents here")
            continue
        kind = PLIST_TYPES[keys[name]["type"]]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            wrong.append(f"{name}: {value!r} is not {keys[name]['type']}")
        elif "rangelist" in keys[name] and value not in keys[name]["rangelist"]:
            wrong.append(f"{name}: {value!r} is not one of {keys[name]['rangelist']}")
    wrong += [
        f"{name}: required" for name, key in keys.items() if key["presence"] == "required" and name not in payload
    ]
    return wrong


def test_a_mailbox_user_downloads_an_apple_profile_without_a_password(hosts, mailbox_user_client):
    response = mailbox_user_client.get("/account/mail.mobileconfig")
    assert response["Content-Type"] == "application/x-apple-aspen-config"
    assert 'filename="alice@example.org.mobileconfig"' in response["Content-Disposition"]
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist')
    profile = plistlib.loads(response.content, fmt=plistlib.FMT_XML)
    assert against_apple_schema(profile, apple_keys("TopLevel")) == []
    assert (profile["PayloadType"], profile["PayloadVersion"]) == ("Configuration", 1)
    (account,) = profile["PayloadContent"]
    assert against_apple_schema(account, apple_keys("CommonPayloadKeys", "com.apple.mail.managed")) == []
    assert account["PayloadType"] == "com.apple.mail.managed" and account["EmailAccountType"] == "EmailTypeIMAP"
    assert uuid.UUID(profile["PayloadUUID"]) != uuid.UUID(account["PayloadUUID"])
    assert account["EmailAddress"] == account["IncomingMailServerUsername"] == "alice@example.org"
    assert account["OutgoingMailServerUsername"] == "alice@example.org"
    servers = {
        direction: tuple(account[f"{direction}MailServer{field}"] for field in ("HostName", "PortNumber", "UseSSL"))
        for direction in ("Incoming", "Outgoing")
    }
    assert servers == {"Incoming": ("mail.example.org", 10993, True), "Outgoing": ("mail.example.org", 10465, True)}
    assert account["IncomingMailServerAuthentication"] == account["OutgoingMailServerAuthentication"]
    assert account["IncomingMailServerAuthentication"] == "EmailAuthPassword"
    # No password, though Apple's schema has keys for one: the device asks.
    assert "IncomingPassword" not in account and "OutgoingPassword" not in account
    again = plistlib.loads(mailbox_user_client.get("/account/mail.mobileconfig").content)
    assert again["PayloadUUID"] == profile["PayloadUUID"]  # a newer profile replaces the older one


def test_apples_schema_catches_what_a_device_would_refuse():
    keys = apple_keys("CommonPayloadKeys", "com.apple.mail.managed")
    account = {
        "PayloadType": "com.apple.mail.managed",
        "PayloadVersion": 1,
        "PayloadIdentifier": "x",
        "PayloadUUID": "x",
    }
    account |= {"EmailAccountType": "IMAP", "IncomingMailServerPortNumber": "993", "IncomingMailServerUseSSL": 1}
    assert against_apple_schema(account, keys) == [
        "EmailAccountType: 'IMAP' is not one of ['EmailTypeIMAP', 'EmailTypePOP']",
        "IncomingMailServerPortNumber: '993' is not <integer>",
        "IncomingMailServerUseSSL: 1 is not <boolean>",
        "IncomingMailServerAuthentication: required",
        "IncomingMailServerHostName: required",
        "OutgoingMailServerAuthentication: required",
        "OutgoingMailServerHostName: required",
    ]


def test_the_account_page_shows_the_ports_the_daemons_listen_on(hosts, mailbox_user_client):
    page = mailbox_user_client.get("/account/")
    assertContains(page, "port 10993, SSL/TLS")
    assertContains(page, "port 10465, SSL/TLS")
    assertContains(page, 'href="/account/mail.mobileconfig"')
    assert host_config().imaps_port == 10993
