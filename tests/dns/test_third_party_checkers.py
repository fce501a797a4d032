"""What the panel tells people to publish, held against other people's checkers (DESIGN decision 11).

One domain of each kind is made through the panel's own actions; each zone is taken exactly as the
panel offers it for download and served by a real nsd on loopback; then checkdmarc, pyspf and
dkimpy, unchanged, read it from there. The mail host's addresses (192.0.2.10, 2001:db8::10) are only
data in the records: nothing here connects to them, and a guard fails the test if anything tries.
"""

import ipaddress
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import checkdmarc.utils
import dkim
import dkim.dnsplug
import dns.message
import dns.nameserver
import dns.query
import dns.rdatatype
import dns.resolver
import pytest
import spf as pyspf  # the SPF reference implementation
from checkdmarc.dmarc import check_dmarc
from checkdmarc.mta_sts import MTASTSError, parse_mta_sts_policy, parse_mta_sts_record, query_mta_sts_record
from checkdmarc.smtp import check_mx
from checkdmarc.smtp_tls_reporting import check_smtp_tls_reporting
from checkdmarc.spf import check_spf
from django.test import Client

from accounts.actions import create_mailbox
from audit.log import COMMAND_LINE
from dnsrecords.data import policy_for
from domains import actions
from domains import dkim as panel_dkim
from domains.models import DkimKey, Domain
from tests.dns.nameserver import Nameserver, free_port
from tests.helpers import MAIL_PASSWORD

pytestmark = pytest.mark.dns

MAIL_HOST = "mail.example.org"
MAIL_HOST_ADDRESSES = ["192.0.2.10", "2001:db8::10"]  # documentation addresses: data only, never dialled


@dataclass
class Published:
    """The domains, by kind, and the loopback nameserver that serves the zones the panel offered."""

    domains: dict[str, Domain]
    policies: dict[str, str]  # the MTA-STS policy the panel serves at mta-sts.<domain>, by domain
    port: int

    @property
    def sending(self) -> dict[str, Domain]:
        return {kind: domain for kind, domain in self.domains.items() if kind != "parked"}

    def query(self, name: str, rdtype: str) -> dns.message.Message:
        # TCP: a 4096-bit key's record does not fit a plain UDP answer.
        return dns.query.tcp(dns.message.make_query(name, rdtype), "127.0.0.1", port=self.port, timeout=2)


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """checkdmarc can test STARTTLS on MX hosts, fetch MTA-STS policies over HTTPS and fall back to
    the system's resolvers; the functions used here do none of that, and this tripwire proves it:
    any address lookup or packet for anything but loopback fails the test."""

    def check(address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        try:
            loopback = ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            loopback = host == "localhost"
        assert loopback, f"a checker tried to reach {address}; only the loopback nameserver may be asked"

    def guarded(original: Callable, position: int) -> Callable:
        def call(sock: socket.socket, *args: object) -> object:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                check(args[position])
            return original(sock, *args)

        return call

    monkeypatch.setattr(socket.socket, "connect", guarded(socket.socket.connect, 0))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(socket.socket.connect_ex, 0))
    monkeypatch.setattr(socket.socket, "sendto", guarded(socket.socket.sendto, -1))
    original_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        check(host)
        return original_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def make_every_kind_of_domain() -> dict[str, Domain]:
    def policy(domain: Domain, **fields) -> None:
        actions.update_policy(policy_for(domain), actor=COMMAND_LINE, **fields)

    def signing(domain: Domain, **key) -> DkimKey:
        # The override stands in for the live check that would have seen the record published.
        new = actions.create_dkim_key(domain, actor=COMMAND_LINE, **key) if key else domain.dkim_keys.get()
        return actions.activate_dkim_key(new, actor=COMMAND_LINE, unpublished_ok=True)

    normal = actions.create_domain("example.org", actor=COMMAND_LINE)
    create_mailbox(normal, "alice", MAIL_PASSWORD, actor=COMMAND_LINE)
    create_mailbox(normal, "dmarc", MAIL_PASSWORD, actor=COMMAND_LINE)
    signing(normal)
    signing(normal, selector="ed1", algorithm="ed25519")
    idn = actions.create_domain("bücher.example", actor=COMMAND_LINE)
    signing(idn)
    parked = actions.create_domain("parked.example", actor=COMMAND_LINE)
    policy(parked, parked=True, dmarc_rua="dmarc@example.org")  # reports of forgeries, sent elsewhere
    alias = actions.create_domain("example.net", actor=COMMAND_LINE, alias_of=normal)
    reporting = actions.create_domain("shop.example", actor=COMMAND_LINE)
    signing(reporting)
    policy(reporting, dmarc_rua="dmarc@example.org", dmarc_ruf="dmarc@example.org")
    enforcing = actions.create_domain("strict.example", actor=COMMAND_LINE)
    signing(enforcing)
    policy(enforcing, mta_sts_mode="enforce")
    opting_out = actions.create_domain("optout.example", actor=COMMAND_LINE)
    signing(opting_out)
    policy(opting_out, mta_sts_mode="none")
    big = actions.create_domain("big.example", actor=COMMAND_LINE)
    signing(big, selector="big4096", bits=4096)  # the 2048-bit key it was born with stays, pending
    return {
        "normal": normal,
        "IDN": idn,
        "parked": parked,
        "alias domain": alias,
        "DMARC reports to another managed domain": reporting,
        "MTA-STS enforce": enforcing,
        "MTA-STS none": opting_out,
        "RSA-4096": big,
    }


@pytest.fixture
def published(
    db, settings, tmp_path, client: Client, superadmin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Published]:
    settings.MAIL_HOSTNAME = MAIL_HOST
    settings.MAIL_PUBLIC_ADDRESSES = MAIL_HOST_ADDRESSES
    settings.MTA_STS_ADDRESSES = []
    domains = make_every_kind_of_domain()
    settings.ALLOWED_HOSTS = ["testserver", *(f"mta-sts.{domain.name}" for domain in domains.values())]
    zones, policies = {}, {}
    for domain in domains.values():
        response = superadmin_client.get(f"/domains/{domain.name}/dns/zone/")
        assert response.status_code == 200
        zones[domain.name] = response.content.decode()
        # What a sender fetches over HTTPS, taken from the view itself: no connection to the mail host.
        policy = client.get("/.well-known/mta-sts.txt", HTTP_HOST=f"mta-sts.{domain.name}")
        if policy.status_code == 200:
            policies[domain.name] = policy.content.decode()
    everything = superadmin_client.get("/dns/all.zone").content.decode()
    assert all(zone in everything for zone in zones.values())  # the two downloads agree
    server = Nameserver(tmp_path / "nsd", free_port())
    for name, zone in zones.items():
        server.add_zone(name, zone)
    server.start()
    # pyspf and dkimpy ask dnspython's default resolver: make it the loopback nsd.
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = ["127.0.0.1"], server.port
    monkeypatch.setattr(dns.resolver, "default_resolver", resolver)
    # checkdmarc caches answers for the life of the process; each test serves new keys.
    checkdmarc.utils.DNS_CACHE.clear()
    try:
        yield Published(domains, policies, server.port)
    finally:
        server.stop()
        checkdmarc.utils.DNS_CACHE.clear()


# --- checkdmarc ---------------------------------------------------------------------------------


def checkdmarc_findings(name: str, parked: bool, policy: str | None, port: int) -> list[str]:
    """Every error and warning checkdmarc gives for one domain, each prefixed with its check.

    What checkdmarc.check_domains does, less what would leave the machine or is the DNS host's
    business (SOA, NS, DNSSEC, BIMI): check_mx without check_mx_tls (no SMTP), and check_mta_sts
    with the policy the panel serves in place of download_mta_sts_policy (HTTPS to the mail host).
    All queries go to the loopback nsd: every checkdmarc path that builds its own resolver or
    queries directly (DNSSEC of MX hosts, TLSA) takes these nameservers."""
    dns_args = {"nameservers": [dns.nameserver.Do53Nameserver("127.0.0.1", port)], "timeout": 2, "retries": 0}
    results = {}
    mx_patterns = None
    if not parked:
        try:
            record = query_mta_sts_record(name, **dns_args)
            parsed_record = parse_mta_sts_record(record["record"])
            assert policy is not None, "an MTA-STS record is published but no policy is served"
            parsed_policy = parse_mta_sts_policy(policy)
            mx_patterns = parsed_policy["policy"]["mx"]
            warnings = record["warnings"] + parsed_record["warnings"] + parsed_policy["warnings"]
            results["MTA-STS"] = {"warnings": warnings}
        except MTASTSError as error:
            results["MTA-STS"] = {"error": str(error)}
        results["TLSRPT"] = check_smtp_tls_reporting(name, **dns_args)
    results["MX"] = check_mx(name, check_mx_tls=False, mta_sts_mx_patterns=mx_patterns, **dns_args)
    results["SPF"] = check_spf(name, parked=parked, **dns_args)
    results["DMARC"] = check_dmarc(name, parked=parked, **dns_args)
    findings = []
    for check, result in results.items():
        if "error" in result:
            findings.append(f"{check} error: {result['error']}")
        findings += [f"{check} warning: {warning}" for warning in result.get("warnings", [])]
    return findings


def allowed(finding: str, name: str) -> bool:
    """Findings that do not mean the zone is wrong: records in other zones, and the advice restated."""
    # Reverse DNS lives in the zone of whoever owns the addresses; the panel lists the PTR records
    # as comments ("Records this domain needs in other zones") and its own live check checks them.
    if any(finding == f"MX warning: {a} does not have any reverse DNS (PTR) records" for a in MAIL_HOST_ADDRESSES):
        return True
    # A parked domain's null MX is the advice itself (RFC 7505), reported as information.
    return finding == f"MX warning: {name} has a null MX record (RFC 7505): the domain explicitly does not accept mail"


def test_every_kind_of_domain_passes_checkdmarc_from_the_zone_the_panel_offers(published):
    kinds = published.sending
    assert set(published.policies) == {domain.name for domain in kinds.values()}  # none for the parked one
    modes = {kind: parse_mta_sts_policy(published.policies[d.name])["policy"]["mode"] for kind, d in kinds.items()}
    assert modes == {**dict.fromkeys(kinds, "testing"), "MTA-STS enforce": "enforce", "MTA-STS none": "none"}
    problems = {
        f"{kind} ({domain.name})": [
            finding
            for finding in checkdmarc_findings(
                domain.name, kind == "parked", published.policies.get(domain.name), published.port
            )
            if not allowed(finding, domain.name)
        ]
        for kind, domain in published.domains.items()
    }
    problems = {domain: found for domain, found in problems.items() if found}
    assert not problems, "\n".join(f"{domain}: {found}" for domain, found in problems.items())


# --- pyspf --------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:please use dns.resolver.resolve:DeprecationWarning")
def test_the_mail_host_passes_spf_by_pyspf_for_every_sending_domain(published):
    def verdict(name: str, address: str) -> str:
        return pyspf.check2(i=address, s=f"postmaster@{name}", h=MAIL_HOST)[0]

    verdicts = {
        (kind, address): verdict(domain.name, address)
        for kind, domain in published.domains.items()
        for address in MAIL_HOST_ADDRESSES
    }
    assert verdicts == {
        (kind, address): "fail" if kind == "parked" else "pass"
        for kind in published.domains
        for address in MAIL_HOST_ADDRESSES
    }
    # And another server does not pass for any of them.
    assert {verdict(domain.name, "198.51.100.7") for domain in published.domains.values()} == {"fail"}


# --- dkimpy -------------------------------------------------------------------------------------


def signed(message: bytes, domain: str, key: DkimKey) -> bytes:
    """The message as Rspamd would sign it with the key it reads (PEM for RSA, base64 seed for Ed25519)."""
    private = panel_dkim.decrypt(key.private_key_encrypted)
    algorithm = b"ed25519-sha256" if key.algorithm == panel_dkim.ED25519 else b"rsa-sha256"
    signature = dkim.sign(
        message,
        key.selector.encode(),
        domain.encode(),
        private,
        signature_algorithm=algorithm,
        include_headers=[b"from", b"to", b"subject"],
    )
    return signature + message


def test_mail_signed_with_each_exported_key_verifies_by_dkimpy(published):
    results = {}
    for kind, domain in published.sending.items():
        # An alias domain signs with its target's keys under its own d=: the panel publishes the
        # target's public keys under the alias domain's name.
        owner = domain.alias_of or domain
        keys = DkimKey.objects.filter(domain=owner).exclude(private_key_encrypted="").order_by("selector")
        assert keys.exists()
        for key in keys:
            message = f"From: alice@{domain.name}\r\nTo: bob@example.com\r\nSubject: hello\r\n\r\nHello.\r\n".encode()
            mail = signed(message, domain.name, key)
            # dkimpy's own DNS function, asking the loopback nsd through dnspython.
            results[(kind, key.selector, key.algorithm)] = (
                dkim.verify(mail, dnsfunc=dkim.dnsplug.get_txt),
                dkim.verify(mail.replace(b"Hello.", b"Hullo."), dnsfunc=dkim.dnsplug.get_txt),
            )
    assert {kind for kind, _, _ in results} == set(published.sending)
    assert ("normal", "ed1", "ed25519") in results and ("RSA-4096", "big4096", "rsa") in results
    assert all(outcome == (True, False) for outcome in results.values()), results


def test_an_rsa_4096_key_is_served_in_255_byte_strings_that_reassemble_to_the_key(published):
    big = published.domains["RSA-4096"]
    key = big.dkim_keys.get(selector="big4096")
    answer = published.query(f"big4096._domainkey.{big.name}.", "TXT").answer
    [rdata] = [rdata for rrset in answer for rdata in rrset if rrset.rdtype == dns.rdatatype.TXT]
    assert len(rdata.strings) > 2 and all(len(s) <= 255 for s in rdata.strings)
    assert b"".join(rdata.strings).decode() == f"v=DKIM1; k=rsa; t=s; h=sha256; p={key.public_key}"
    assert dkim.dnsplug.get_txt(f"big4096._domainkey.{big.name}.".encode()) == b"".join(rdata.strings)
    message = b"From: alice@big.example\r\nTo: bob@example.com\r\nSubject: big\r\n\r\nHello.\r\n"
    assert dkim.verify(signed(message, big.name, key), dnsfunc=dkim.dnsplug.get_txt)
