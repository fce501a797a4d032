"""One-click mail client set-up: Thunderbird's autoconfig, Outlook's autodiscover and an Apple
profile, each with the servers, ports and security the daemons are configured with."""

import plistlib
from xml.etree import ElementTree as ET

import pytest
from django.test import Client
from pytest_django.asserts import assertContains

from accounts.clientsetup import OUTLOOK_NS, REQUEST_NS
from audit.log import COMMAND_LINE
from core.mailhost import host_config
from domains.actions import create_domain, update_domain


@pytest.fixture
def hosts(settings):
    settings.ALLOWED_HOSTS = ["testserver", "autoconfig.example.org", "autodiscover.example.org", "example.net"]
    settings.MAIL_HOST = {"imaps_port": 10993, "smtps_port": 10465, "imap_port": 10143, "submission_port": 10587}


def servers(xml: bytes) -> dict[str, tuple[str, str, str, str]]:
    provider = ET.fromstring(xml).find("emailProvider")
    found = {}
    for element in provider:
        if element.tag in ("incomingServer", "outgoingServer"):
            fields = tuple(element.findtext(tag) for tag in ("hostname", "port", "socketType", "username"))
            found.setdefault(f"{element.tag}/{element.get('type')}", []).append(fields)
    return found


def test_thunderbird_finds_the_servers_the_daemons_listen_on(hosts, domain):
    response = Client().get(
        "/mail/config-v1.1.xml", {"emailaddress": "alice@example.org"}, HTTP_HOST="autoconfig.example.org"
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    root = ET.fromstring(response.content)
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    assert root.find("emailProvider").findtext("domain") == "example.org"
    found = servers(response.content)
    assert found["incomingServer/imap"] == [
        ("mail.example.org", "10993", "SSL", "%EMAILADDRESS%"),
        ("mail.example.org", "10143", "STARTTLS", "%EMAILADDRESS%"),
    ]
    assert found["outgoingServer/smtp"] == [
        ("mail.example.org", "10465", "SSL", "%EMAILADDRESS%"),
        ("mail.example.org", "10587", "STARTTLS", "%EMAILADDRESS%"),
    ]
    well_known = Client().get("/.well-known/autoconfig/mail/config-v1.1.xml", HTTP_HOST="autoconfig.example.org")
    assert well_known.content == response.content


def test_only_domains_this_host_receives_mail_for_get_an_answer(hosts, domain):
    client = Client()
    assert client.get("/mail/config-v1.1.xml", {"emailaddress": "x@unknown.example"}).status_code == 404
    create_domain("example.net", actor=COMMAND_LINE, alias_of=domain)
    assert client.get("/.well-known/autoconfig/mail/config-v1.1.xml", HTTP_HOST="example.net").status_code == 200
    assert client.get("/mail/config-v1.1.xml", {"emailaddress": "x@example.net"}).status_code == 200
    update_domain(domain, actor=COMMAND_LINE, active=False)
    assert client.get("/mail/config-v1.1.xml", {"emailaddress": "x@example.net"}).status_code == 404


def autodiscover_request(address: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{REQUEST_NS.rsplit("/outlook", 1)[0]}/outlook/requestschema/2006">'
        f"<Request><EMailAddress>{address}</EMailAddress>"
        "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
        "</AcceptableResponseSchema></Request></Autodiscover>"
    ).encode()


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


def test_a_mailbox_user_downloads_an_apple_profile_without_a_password(hosts, mailbox_user_client):
    response = mailbox_user_client.get("/account/mail.mobileconfig")
    assert response["Content-Type"] == "application/x-apple-aspen-config"
    assert 'filename="alice@example.org.mobileconfig"' in response["Content-Disposition"]
    profile = plistlib.loads(response.content)
    assert (profile["PayloadType"], profile["PayloadVersion"]) == ("Configuration", 1)
    assert profile["PayloadIdentifier"] and profile["PayloadUUID"]
    (account,) = profile["PayloadContent"]
    assert account["PayloadType"] == "com.apple.mail.managed" and account["EmailAccountType"] == "EmailTypeIMAP"
    assert account["EmailAddress"] == account["IncomingMailServerUsername"] == "alice@example.org"
    assert (account["IncomingMailServerHostName"], account["IncomingMailServerPortNumber"]) == (
        "mail.example.org",
        10993,
    )
    assert (account["OutgoingMailServerPortNumber"], account["OutgoingMailServerUseSSL"]) == (10465, True)
    assert not any("Password" in key and key != "OutgoingPasswordSameAsIncomingPassword" for key in account)
    again = plistlib.loads(mailbox_user_client.get("/account/mail.mobileconfig").content)
    assert again["PayloadUUID"] == profile["PayloadUUID"]  # a newer profile replaces the older one


def test_the_account_page_shows_the_ports_the_daemons_listen_on(hosts, mailbox_user_client):
    page = mailbox_user_client.get("/account/")
    assertContains(page, "port 10993, SSL/TLS")
    assertContains(page, "port 10465, SSL/TLS")
    assertContains(page, 'href="/account/mail.mobileconfig"')
    assert host_config().imaps_port == 10993
