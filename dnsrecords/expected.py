"""The DNS records a domain must publish, as a pure function of what the database says.

`expected_records(domain, host)` takes plain data (DomainDns, MailHostDns) and returns Records:
fully qualified names without the trailing dot, A-labels, values in presentation form (TXT as
one unquoted string; splitting into 255-byte strings is the zone file's business).
"""

import hashlib
import ipaddress
from dataclasses import dataclass, field

from domains import dkim

REQUIRED, RECOMMENDED, OPTIONAL = "required", "recommended", "optional"
ABSENT = "delete"  # a record that must no longer be published
TTL = 3600


@dataclass(frozen=True)
class Record:
    name: str
    type: str
    value: str
    level: str
    reason: str
    ttl: int = TTL
    zone: str = ""  # the zone the record belongs in, when it is not the domain's own

    @property
    def key(self) -> str:
        """Identifies the record across checks: name and type, and the value where a name has several."""
        return (
            f"{self.type} {self.name} {self.value}" if self.type in ("MX", "A", "AAAA") else f"{self.type} {self.name}"
        )

    def relative_to(self, origin: str) -> str:
        if self.name == origin:
            return "@"
        if self.name.endswith("." + origin):
            return self.name[: -len(origin) - 1]
        return self.name + "."


@dataclass(frozen=True)
class DkimPublished:
    selector: str
    algorithm: str
    public_key: str
    state: str  # pending, active or retired


@dataclass(frozen=True)
class DomainDns:
    name: str
    parked: bool = False
    mx: tuple[tuple[int, str], ...] = ()
    spf_mechanisms: str = "mx"
    spf_all: str = "-all"
    dmarc: tuple[tuple[str, str], ...] = (
        ("p", "reject"),
        ("sp", "reject"),
        ("pct", "100"),
        ("aspf", "s"),
        ("adkim", "s"),
        ("fo", "1"),
    )
    dmarc_rua: str = ""
    dmarc_ruf: str = ""
    mta_sts_mode: str = "testing"
    mta_sts_max_age: int = 86400
    tlsrpt_rua: str = ""
    dkim: tuple[DkimPublished, ...] = ()


@dataclass(frozen=True)
class MailHostDns:
    hostname: str
    addresses: tuple[str, ...] = ()  # the mail host's public IPv4 and IPv6 addresses
    web_addresses: tuple[str, ...] = field(default=())  # where mta-sts.<domain> is served; default: the mail host
    # The ports the daemons listen on (core.mailhost), advertised to mail clients by SRV records.
    imaps_port: int = 993
    imap_port: int = 143
    smtps_port: int = 465
    submission_port: int = 587


def mx_hosts(domain: DomainDns, host: MailHostDns) -> tuple[tuple[int, str], ...]:
    return domain.mx or ((10, host.hostname),)


def mta_sts_policy(domain: DomainDns, host: MailHostDns) -> str:
    """The policy text served at https://mta-sts.<domain>/.well-known/mta-sts.txt, CRLF line endings."""
    lines = ["version: STSv1", f"mode: {domain.mta_sts_mode}"]
    lines += [f"mx: {name}" for _, name in mx_hosts(domain, host)]
    lines.append(f"max_age: {domain.mta_sts_max_age}")
    return "\r\n".join(lines) + "\r\n"


def mta_sts_id(domain: DomainDns, host: MailHostDns) -> str:
    """Changes whenever the policy does, with no state to forget to update: a digest of its text."""
    return hashlib.sha256(mta_sts_policy(domain, host).encode()).hexdigest()[:20]


def client_setup_records(name: str, host: MailHostDns) -> list[Record]:
    """What lets mail clients set themselves up from an address alone: RFC 6186/8314 SRV records
    (implicit TLS preferred, priority 0; STARTTLS 10; POP3 is not offered: "0 0 0 ."), and the
    autoconfig. (Thunderbird) and autodiscover. (Outlook) web names the panel answers on."""
    target = f"{host.hostname}."
    services = [
        ("_submissions", f"0 1 {host.smtps_port} {target}", "Mail clients find the submission server (TLS)."),
        ("_submission", f"10 1 {host.submission_port} {target}", "Submission with STARTTLS, for older clients."),
        ("_imaps", f"0 1 {host.imaps_port} {target}", "Mail clients find the IMAP server (TLS)."),
        ("_imap", f"10 1 {host.imap_port} {target}", "IMAP with STARTTLS, for older clients."),
        ("_pop3s", "0 0 0 .", "This host offers no POP3: clients need not try it."),
        ("_pop3", "0 0 0 .", "This host offers no POP3: clients need not try it."),
    ]
    records = [
        Record(f"{service}._tcp.{name}", "SRV", value, RECOMMENDED, reason) for service, value, reason in services
    ]
    for label, who in [("autoconfig", "Thunderbird"), ("autodiscover", "Outlook")]:
        for address in host.web_addresses or host.addresses:
            kind = "AAAA" if ":" in address else "A"
            reason = f"{who} fetches its settings for this domain from the panel here."
            records.append(Record(f"{label}.{name}", kind, address, RECOMMENDED, reason))
    return records


def _authorisations(name: str, report_addresses: list[str]) -> list[Record]:
    """The record each other domain that receives this domain's DMARC reports must publish."""
    return [
        Record(
            f"{name}._report._dmarc.{report_domain}",
            "TXT",
            "v=DMARC1",
            REQUIRED,
            f"Lets {report_domain} receive this domain's DMARC reports (RFC 7489 §7.1).",
            zone=report_domain,
        )
        for report_domain in sorted({a.split("@")[1] for a in report_addresses} - {name})
    ]


def dmarc_tags(tags: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """The policy's DMARC tags as published. pct=100 is the default and is left out: DMARCbis
    (RFC 9989) removed pct, and checkers warn about it. A lower percentage is published as pct
    (for RFC 7489 receivers) together with t=y, DMARCbis's "testing" flag."""
    published = [(tag, value) for tag, value in tags if not (tag == "pct" and value == "100")]
    if any(tag == "pct" for tag, _ in published):
        published.append(("t", "y"))
    return published


def _report_address(address: str, domain: str) -> str:
    return address or f"postmaster@{domain}"


def dkim_value(key: DkimPublished) -> str:
    if key.algorithm == "ed25519":
        return f"v=DKIM1; k=ed25519; t=s; p={key.public_key}"
    return f"v=DKIM1; k=rsa; t=s; h=sha256; p={key.public_key}"


def reverse_name(address: str) -> str:
    return ipaddress.ip_address(address).reverse_pointer


def expected_records(domain: DomainDns, host: MailHostDns) -> list[Record]:
    name = domain.name
    if domain.parked:
        # Reports about mail forged in its name can only go to another domain (it receives none),
        # so a parked domain names an address for them only when one is set.
        rua = domain.dmarc_rua
        return [
            Record(name, "MX", "0 .", REQUIRED, "Null MX (RFC 7505): this domain receives no mail."),
            Record(name, "TXT", "v=spf1 -all", REQUIRED, "No server may send mail as this domain."),
            Record(
                f"_dmarc.{name}",
                "TXT",
                "v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s" + (f"; rua=mailto:{rua}" if rua else ""),
                REQUIRED,
                "Receivers reject anything claiming to come from this domain"
                + (", and report it." if rua else "; set a report address on another domain to hear of it."),
            ),
            *_authorisations(name, [rua] if rua else []),
            Record(
                f"_mta-sts.{name}",
                "TXT",
                "v=STSv1",
                ABSENT,
                "A parked domain has no MTA-STS policy: a leftover record here points senders at one that is gone.",
            ),
        ]
    records = [
        Record(name, "MX", f"{preference} {target}.", REQUIRED, "Mail for the domain goes to this host.")
        for preference, target in mx_hosts(domain, host)
    ]
    records.append(
        Record(
            name,
            "TXT",
            f"v=spf1 {domain.spf_mechanisms} {domain.spf_all}".replace("  ", " "),
            REQUIRED,
            "Only the listed servers may send as this domain; one SPF record only.",
        )
    )
    for key in domain.dkim:
        level, reason = {
            "active": (REQUIRED, "The key Rspamd signs with; receivers check signatures against it."),
            "pending": (RECOMMENDED, "The next key: publish it and let it be seen before switching signing to it."),
            "retired": (
                OPTIONAL,
                "A previous key: keep it a few days so mail signed before the switch still verifies.",
            ),
            "removed": (ABSENT, "A removed key: delete this record at your DNS host; the check shows when it is gone."),
        }[key.state]
        records.append(Record(dkim.record_name(key.selector, name), "TXT", dkim_value(key), level, reason))
    rua, ruf = (_report_address(a, name) for a in (domain.dmarc_rua, domain.dmarc_ruf))
    tags = "; ".join(f"{tag}={value}" for tag, value in dmarc_tags(domain.dmarc))
    records.append(
        Record(
            f"_dmarc.{name}",
            "TXT",
            f"v=DMARC1; {tags}; rua=mailto:{rua}; ruf=mailto:{ruf}",
            REQUIRED,
            "Receivers reject mail that fails SPF and DKIM alignment, and report to you.",
        )
    )
    records += _authorisations(name, [rua, ruf])
    records.append(
        Record(
            f"_smtp._tls.{name}",
            "TXT",
            f"v=TLSRPTv1; rua=mailto:{_report_address(domain.tlsrpt_rua, name)}",
            RECOMMENDED,
            "Sending servers report TLS failures to you (RFC 8460).",
        )
    )
    # Mode "none" is the way out (RFC 8461 §8.3): the policy is still served, saying "none",
    # under a new id, until senders' cached policies (max_age) have expired.
    opting_out = domain.mta_sts_mode == "none"
    records.append(
        Record(
            f"_mta-sts.{name}",
            "TXT",
            f"v=STSv1; id={mta_sts_id(domain, host)}",
            RECOMMENDED,
            (
                "Opting out: senders fetch the policy saying “mode: none”. Remove this record and the mta-sts "
                f"address only after {domain.mta_sts_max_age} seconds (max_age) have passed."
            )
            if opting_out
            else "Tells senders an MTA-STS policy exists; the id changes whenever the policy does.",
        )
    )
    for address in host.web_addresses or host.addresses:
        kind = "AAAA" if ":" in address else "A"
        records.append(
            Record(
                f"mta-sts.{name}",
                kind,
                address,
                RECOMMENDED,
                "The web server that serves the MTA-STS policy over HTTPS.",
            )
        )
    records += client_setup_records(name, host)
    for address in host.addresses:
        kind = "AAAA" if ":" in address else "A"
        zone = "" if host.hostname.endswith("." + name) or host.hostname == name else host.hostname.partition(".")[2]
        records.append(
            Record(host.hostname, kind, address, REQUIRED, "The mail host's address; never a CNAME.", zone=zone)
        )
        records.append(
            Record(
                reverse_name(address),
                "PTR",
                f"{host.hostname}.",
                REQUIRED,
                "Reverse DNS must name the mail host (set by whoever owns the address, not the registrar).",
                zone="reverse",
            )
        )
    return records
