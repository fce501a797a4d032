"""What mail clients are told to connect to, for one-click set-up: Thunderbird's autoconfig,
Outlook's autodiscover (POX) and Apple's configuration profile.

Every host name, port and security setting comes from core.mailhost.host_config(), the same
settings Dovecot's and OpenSMTPD's configuration is rendered from, so the two cannot disagree.
The panel holds only password hashes: no profile carries a password (the client asks).

    >>> servers(HostConfig("mail.example.org", Path("/")))[0]
    Server(protocol='imap', host='mail.example.org', port=993, security='SSL')
"""

import plistlib
import uuid
from dataclasses import dataclass
from pathlib import Path  # noqa: F401  (the doctest above)
from xml.etree import ElementTree as ET

from core.addresses import display_domain
from core.mailhost import HostConfig


@dataclass(frozen=True)
class Server:
    protocol: str  # imap or smtp
    host: str
    port: int
    security: str  # SSL (implicit TLS) or STARTTLS


def servers(host: HostConfig) -> list[Server]:
    """Preferred first: implicit TLS (RFC 8314), then STARTTLS on the classic ports."""
    name = host.hostname
    return [
        Server("imap", name, host.imaps_port, "SSL"),
        Server("imap", name, host.imap_port, "STARTTLS"),
        Server("smtp", name, host.smtps_port, "SSL"),
        Server("smtp", name, host.submission_port, "STARTTLS"),
    ]


def preferred(host: HostConfig) -> tuple[Server, Server]:
    """The IMAP and SMTP servers a client that takes one of each is given: implicit TLS."""
    imap, _, smtp, _ = servers(host)
    return imap, smtp


def _xml(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def autoconfig_xml(domain: str, host: HostConfig) -> bytes:
    """Thunderbird's config-v1.1.xml for a domain (its user name is the whole address)."""
    root = ET.Element("clientConfig", version="1.1")
    provider = ET.SubElement(root, "emailProvider", id=domain)
    ET.SubElement(provider, "domain").text = domain
    ET.SubElement(provider, "displayName").text = display_domain(domain)
    ET.SubElement(provider, "displayShortName").text = display_domain(domain)
    for server in servers(host):
        kind = "incomingServer" if server.protocol == "imap" else "outgoingServer"
        element = ET.SubElement(provider, kind, type=server.protocol)
        ET.SubElement(element, "hostname").text = server.host
        ET.SubElement(element, "port").text = str(server.port)
        ET.SubElement(element, "socketType").text = server.security
        ET.SubElement(element, "username").text = "%EMAILADDRESS%"
        ET.SubElement(element, "authentication").text = "password-cleartext"
    return _xml(root)


REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"


def autodiscover_address(request_body: bytes) -> str:
    """The EMailAddress of an Outlook POX autodiscover request, or "" if there is none.
    The body is a client's, so entity declarations are refused before parsing."""
    if b"<!DOCTYPE" in request_body or b"<!ENTITY" in request_body:
        return ""
    try:
        root = ET.fromstring(request_body)
    except ET.ParseError:
        return ""
    found = root.find(f"{{{REQUEST_NS}}}Request/{{{REQUEST_NS}}}EMailAddress")
    return (found.text or "").strip() if found is not None else ""


def autodiscover_xml(address: str, host: HostConfig) -> bytes:
    """Outlook's POX response: the account's IMAP and SMTP servers (implicit TLS first)."""
    # Written as Microsoft's examples are, each namespace the default of its element: clients
    # such as Thunderbird read the names as written and find no "Response" under a prefix.
    root = ET.Element("Autodiscover", xmlns=RESPONSE_NS)
    response = ET.SubElement(root, "Response", xmlns=OUTLOOK_NS)
    account = ET.SubElement(response, "Account")
    ET.SubElement(account, "AccountType").text = "email"
    ET.SubElement(account, "Action").text = "settings"
    for server in preferred(host):  # Outlook takes the first entry of each type
        protocol = ET.SubElement(account, "Protocol")
        for tag, text in [
            ("Type", server.protocol.upper()),
            ("Server", server.host),
            ("Port", str(server.port)),
            ("LoginName", address),
            ("SPA", "off"),
            ("SSL", "on"),
            ("AuthRequired", "on"),
        ]:
            ET.SubElement(protocol, tag).text = text
    return _xml(root)


def mobileconfig(address: str, display_name: str, host: HostConfig, password: str = "") -> bytes:
    """An Apple configuration profile with one mail account (com.apple.mail.managed). Without a
    password the device asks for it; with one (a new app password) it asks nothing. Identifiers
    are stable per address, so installing a newer profile replaces the older one."""
    imap, smtp = preferred(host)
    domain = address.rpartition("@")[2]
    reverse = ".".join(reversed(host.hostname.split(".")))
    account_id = uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{address}")
    profile_id = uuid.uuid5(uuid.NAMESPACE_URL, f"mailadmin-profile:{address}")
    account = {
        "PayloadType": "com.apple.mail.managed",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{reverse}.mail.{account_id}",
        "PayloadUUID": str(account_id).upper(),
        "PayloadDisplayName": f"Mail: {address}",
        "EmailAccountDescription": address,
        "EmailAccountName": display_name or address,
        "EmailAccountType": "EmailTypeIMAP",
        "EmailAddress": address,
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "IncomingMailServerHostName": imap.host,
        "IncomingMailServerPortNumber": imap.port,
        "IncomingMailServerUseSSL": True,
        "IncomingMailServerUsername": address,
        "OutgoingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingMailServerHostName": smtp.host,
        "OutgoingMailServerPortNumber": smtp.port,
        "OutgoingMailServerUseSSL": True,
        "OutgoingMailServerUsername": address,
        "OutgoingPasswordSameAsIncomingPassword": True,
    }
    if password:
        account["IncomingPassword"] = password
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{reverse}.profile.{profile_id}",
        "PayloadUUID": str(profile_id).upper(),
        "PayloadDisplayName": f"Mail for {address}",
        "PayloadDescription": f"Sets up the mail account {address} ({display_domain(domain)}).",
        "PayloadOrganization": display_domain(domain),
        "PayloadContent": [account],
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML)
