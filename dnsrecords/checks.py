"""Live DNS checks with dnspython: does what is published mean what the panel expects?

Each expected Record gets a Result: ok, missing, different (both values shown), conflicting
(two SPF or DMARC records, an MX target that is a CNAME or has no address, a PTR that does not
forward-confirm), or error (no answer in time). Meaning is compared, not strings: TXT strings
are joined, DKIM keys compared as bytes, DMARC and other tag lists as tags, a DMARC report
authorisation as the bare v=DMARC1 it is, and SPF evaluated (dnsrecords.spf) to prove the mail
host's addresses get what the page's record gives them: pass, or fail for a parked domain. A
malformed SPF record, ours or one reached through include:, is a finding (permerror, with the
reason), never an exception.
"""

import base64
import ipaddress
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.resolver
import dns.reversename

from dnsrecords import spf
from dnsrecords.expected import ABSENT, MailHostDns, Record

OK, MISSING, DIFFERENT, CONFLICTING, ERROR = "ok", "missing", "different", "conflicting", "error"


class LookupFailed(Exception):
    pass


@dataclass
class Result:
    key: str
    status: str
    detail: str
    found: list[str] = field(default_factory=list)


class Lookup:
    """Answers from the configured resolvers, cached for one run; a dead server fails fast."""

    def __init__(self, nameservers: list[str], port: int = 53, timeout: float = 2.0) -> None:
        if nameservers:
            self.resolver = dns.resolver.Resolver(configure=False)
            self.resolver.nameservers = nameservers
        else:
            self.resolver = dns.resolver.Resolver()
        self.resolver.port = port
        self.resolver.lifetime = timeout
        self.resolver.timeout = timeout / 2
        self.port, self.timeout = port, timeout
        self.cache: dict[tuple[str, str], list] = {}

    def __call__(self, name: str, rdtype: str) -> list:
        key = (name.lower().rstrip("."), rdtype)
        if key not in self.cache:
            try:
                answer = self.resolver.resolve(key[0] + ".", rdtype, raise_on_no_answer=False)
                rrset = answer.rrset
                self.cache[key] = (
                    list(rrset) if rrset is not None and rrset.rdtype == dns.rdatatype.from_text(rdtype) else []
                )
            except (dns.resolver.NXDOMAIN, dns.exception.SyntaxError, dns.name.NameTooLong):
                # No such name, or none DNS can hold (an SPF macro can build one): nothing there.
                self.cache[key] = []
            except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout) as e:
                raise LookupFailed(f"no answer for {key[0]} {rdtype}: {type(e).__name__}") from None
        return self.cache[key]

    def txt(self, name: str) -> list[str]:
        return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in self(name, "TXT")]


def tags(value: str) -> dict[str, str]:
    found = {}
    for part in value.split(";"):
        tag, sep, tag_value = part.strip().partition("=")
        if sep:
            found[tag.strip().lower()] = tag_value.strip()
    return found


def _txt_with_prefix(lookup: Lookup, record: Record) -> tuple[list[str], list[str]]:
    prefix = record.value.split(";")[0].split(" ")[0].lower()
    everything = lookup.txt(record.name)
    return [t for t in everything if t.lower().replace(" ", "").startswith(prefix.replace(" ", ""))], everything


# --- SPF ----------------------------------------------------------------------------------------


def check_spf(record: Record, lookup: Lookup, host: MailHostDns) -> Result:
    """The live record must leave the mail host with the verdict the page's record gives it (pass
    for a domain that sends, fail for a parked one) and end with the same “all”."""
    found = spf.select_records(lookup.txt(record.name))
    if not found:
        return Result(record.key, MISSING, "No SPF record: receivers cannot tell which servers may send.")
    if len(found) > 1:
        return Result(record.key, CONFLICTING, f"{len(found)} SPF records: receivers treat this as an error.", found)
    try:
        wanted = spf.parse_record(record.value)
    except spf.SpfSyntaxError as e:
        # Saved before the policy form checked each term: the advice itself is broken.
        return Result(
            record.key, DIFFERENT, f"The record this page shows is itself invalid ({e}): fix the SPF policy.", found
        )
    try:
        live = spf.parse_record(found[0])
    except spf.SpfSyntaxError as e:
        return Result(record.key, DIFFERENT, f"Receivers treat this record as an error (permerror): {e}.", found)
    sends = any(isinstance(t, spf.Directive) and t.mechanism != "all" for t in wanted)
    live_all, wanted_all = _final_all(live), _final_all(wanted)
    expected = wanted_all.result if wanted_all and not sends else "pass"
    verdicts: dict[tuple[str, str], list[str]] = {}
    lookups = 0
    for address in host.addresses:
        verdict = spf.check_host(record.name, address, lookup, helo=host.hostname)
        lookups = max(lookups, verdict.lookups)
        if verdict.result != expected:
            verdicts.setdefault((verdict.result, verdict.reason), []).append(address)
    problems = []
    for (result, reason), addresses in verdicts.items():
        problem = f"the mail host {', '.join(addresses)} gets “{result}”"
        if reason:
            problem += f": {reason}"
        elif not sends:
            problem += ", but this domain sends no mail"
        problems.append(problem)
    if _all_text(live_all) != _all_text(wanted_all):
        problems.append(
            f"it ends with {_all_text(live_all)}, not {_all_text(wanted_all)}"
            if live_all
            else f"it does not end with {_all_text(wanted_all)}"
        )
    if problems:
        return Result(record.key, DIFFERENT, "; ".join(problems) + ".", found)
    if not sends:
        return Result(record.key, OK, "No server may send as this domain, the mail host included.", found)
    return Result(record.key, OK, f"The mail host passes; {lookups} of {spf.MAX_LOOKUPS} lookups used.", found)


def _final_all(terms: list[spf.Term]) -> spf.Directive | None:
    return next((t for t in terms if isinstance(t, spf.Directive) and t.mechanism == "all"), None)


def _all_text(directive: spf.Directive | None) -> str:
    return f"{directive.qualifier}all" if directive else ""


# --- the other record types ---------------------------------------------------------------------


def check_dkim(record: Record, lookup: Lookup) -> Result:
    found, _ = _txt_with_prefix(lookup, record)
    if not found:
        return Result(record.key, MISSING, "The selector is not published.")
    if len(found) > 1:
        return Result(record.key, CONFLICTING, "More than one DKIM record at this selector.", found)
    live, wanted = tags(found[0]), tags(record.value)

    def key_bytes(value: str) -> bytes:
        try:
            return base64.b64decode("".join(value.split()), validate=True)
        except ValueError:
            return b""

    if live.get("k", "rsa") != wanted["k"] or key_bytes(live.get("p", "")) != key_bytes(wanted["p"]):
        return Result(record.key, DIFFERENT, "The published key is not this key.", found)
    return Result(record.key, OK, "The published key matches.", found)


DMARC_DEFAULTS = {"pct": "100", "t": "n"}


def check_tag_record(record: Record, lookup: Lookup, what: str, compare: tuple[str, ...]) -> Result:
    found, _ = _txt_with_prefix(lookup, record)
    if not found:
        return Result(record.key, MISSING, f"No {what} record.")
    if len(found) > 1:
        return Result(record.key, CONFLICTING, f"{len(found)} {what} records: receivers ignore them all.", found)
    live, wanted = tags(found[0]), tags(record.value)
    if what == "DMARC":  # tags left out mean their defaults (pct=100, no testing flag)
        live, wanted = DMARC_DEFAULTS | live, DMARC_DEFAULTS | wanted
    wrong = [
        f"{t}={live.get(t, '(none)')} instead of {t}={wanted[t]}"
        for t in compare
        if t in wanted and live.get(t) != wanted[t]
    ]
    if what == "DMARC" and not found[0].replace(" ", "").lower().startswith("v=dmarc1;p="):
        wrong.append("p= must come right after v=DMARC1")
    if wrong:
        return Result(record.key, DIFFERENT, "; ".join(wrong), found)
    return Result(record.key, OK, f"The {what} record matches.", found)


def check_mx(record: Record, lookup: Lookup) -> Result:
    live = [(mx.preference, str(mx.exchange).rstrip(".").lower()) for mx in lookup(record.name, "MX")]
    shown = [f"{p} {t}." if t else f"{p} ." for p, t in live]
    preference, target = record.value.split()
    target = target.rstrip(".").lower()
    if not live:
        return Result(record.key, MISSING, "No MX record: mail cannot find this domain's server.")
    if target == "":
        return Result(
            record.key,
            OK if live == [(0, "")] else DIFFERENT,
            "Null MX." if live == [(0, "")] else "Expected only the null MX.",
            shown,
        )
    if target not in {t for _, t in live}:
        return Result(record.key, DIFFERENT, f"The MX records do not name {target}.", shown)
    if (int(preference), target) not in live:
        return Result(record.key, DIFFERENT, f"{target} has another preference than {preference}.", shown)
    if lookup(target, "CNAME"):
        return Result(
            record.key, CONFLICTING, f"The MX target {target} is a CNAME; it must have A/AAAA records itself.", shown
        )
    if not lookup(target, "A") and not lookup(target, "AAAA"):
        return Result(record.key, CONFLICTING, f"The MX target {target} has no A or AAAA record.", shown)
    return Result(record.key, OK, "Mail finds its way to the mail host.", shown)


def check_address(record: Record, lookup: Lookup) -> Result:
    if lookup(record.name, "CNAME"):
        return Result(record.key, CONFLICTING, f"{record.name} is a CNAME; publish the address itself.")
    live = [r.address for r in lookup(record.name, record.type)]
    if not live:
        return Result(record.key, MISSING, f"No {record.type} record.")
    if ipaddress.ip_address(record.value) not in {ipaddress.ip_address(a) for a in live}:
        return Result(record.key, DIFFERENT, f"{record.name} does not point at {record.value}.", live)
    return Result(record.key, OK, "The address matches.", live)


def check_srv(record: Record, lookup: Lookup) -> Result:
    """The port and target must be as shown ("0 0 0 ." says the service is not offered)."""
    live = [
        (r.priority, r.weight, r.port, str(r.target).rstrip(".").lower() or ".") for r in lookup(record.name, "SRV")
    ]
    shown = [f"{p} {w} {port} {t}." if t != "." else f"{p} {w} {port} ." for p, w, port, t in live]
    if not live:
        return Result(record.key, MISSING, "No SRV record: clients cannot find this service by themselves.")
    _, _, port, target = record.value.split()
    wanted = (int(port), target.rstrip(".").lower() or ".")
    if not any((found_port, found_target) == wanted for _, _, found_port, found_target in live):
        return Result(record.key, DIFFERENT, f"It should name port {port} on {target}.", shown)
    return Result(record.key, OK, "The service record matches.", shown)


def check_ptr(record: Record, lookup: Lookup, host: MailHostDns) -> Result:
    live = [str(r.target).rstrip(".").lower() for r in lookup(record.name, "PTR")]
    address = str(dns.reversename.to_address(dns.name.from_text(record.name)))
    if not live:
        return Result(record.key, MISSING, f"{address} has no reverse DNS; many receivers refuse such servers.")
    if host.hostname not in live:
        return Result(
            record.key, DIFFERENT, f"The reverse DNS of {address} names {', '.join(live)}, not {host.hostname}.", live
        )
    forward = lookup(host.hostname, "AAAA" if ":" in address else "A")
    if ipaddress.ip_address(address) not in {ipaddress.ip_address(r.address) for r in forward}:
        return Result(
            record.key,
            CONFLICTING,
            f"{host.hostname} does not resolve back to {address} (not forward-confirmed).",
            live,
        )
    return Result(record.key, OK, "Reverse DNS names the mail host, and the mail host resolves back.", live)


def check_report_authorisation(record: Record, lookup: Lookup) -> Result:
    """RFC 7489 §7.1: the report domain agrees to receive another domain's DMARC reports by
    publishing a record that starts with v=DMARC1; nothing else is required of it."""
    report_domain = record.name.partition("._report._dmarc.")[2]
    found = [t for t in lookup.txt(record.name) if re.match(r"v\s*=\s*DMARC1\s*(;|$)", t.strip(), re.IGNORECASE)]
    if not found:
        return Result(
            record.key,
            MISSING,
            f"{report_domain} has not agreed to receive this domain's DMARC reports: receivers"
            " will not send them there.",
        )
    return Result(record.key, OK, f"{report_domain} accepts this domain's DMARC reports.", found)


def check_record(record: Record, lookup: Lookup, host: MailHostDns) -> Result:
    try:
        if record.level == ABSENT:
            found, _ = _txt_with_prefix(lookup, record)
            if found:
                return Result(record.key, DIFFERENT, "Still published: delete this record at your DNS host.", found)
            return Result(record.key, OK, "Gone from DNS: you can forget this key.")
        if record.type == "MX":
            return check_mx(record, lookup)
        if record.type in ("A", "AAAA"):
            return check_address(record, lookup)
        if record.type == "PTR":
            return check_ptr(record, lookup, host)
        if record.type == "SRV":
            return check_srv(record, lookup)
        if "._report._dmarc." in record.name:
            return check_report_authorisation(record, lookup)
        prefix = record.value.split(";")[0].split(" ")[0].lower()
        if prefix == "v=spf1":
            return check_spf(record, lookup, host)
        if prefix == "v=dkim1":
            return check_dkim(record, lookup)
        if prefix == "v=dmarc1":
            return check_tag_record(
                record, lookup, "DMARC", ("p", "sp", "pct", "t", "aspf", "adkim", "fo", "rua", "ruf")
            )
        if prefix == "v=stsv1":
            result = check_tag_record(record, lookup, "MTA-STS", ("id",))
            if result.status == DIFFERENT:
                result.detail = "Stale policy id: " + result.detail + " (senders keep the old policy)."
            return result
        return check_tag_record(record, lookup, "TLSRPT" if prefix == "v=tlsrptv1" else "TXT", ("rua",))
    except LookupFailed as e:
        return Result(record.key, ERROR, f"The resolver did not answer in time ({e}).")


def authoritative(domain: str, lookup: Lookup, port: int) -> Lookup | None:
    """A Lookup that asks the domain's own nameservers (found through the resolver), or None."""
    try:
        servers = [str(ns.target) for ns in lookup(domain, "NS")]
        addresses = [r.address for server in servers[:3] for r in lookup(server, "A")]
    except LookupFailed:
        return None
    return Lookup(addresses, port=port, timeout=lookup.timeout) if addresses else None


def check_with_both(record: Record, lookup: Lookup, direct: Lookup | None, host: MailHostDns) -> Result:
    """The resolver's verdict; where the domain's own nameservers already say something else,
    the result says so: the change has not reached every resolver yet."""
    result = check_record(record, lookup, host)
    if direct is None or record.zone:
        return result
    fresh = check_record(record, direct, host)
    if fresh.status != result.status or fresh.found != result.found:
        result.detail += (
            f" The domain's own nameservers already answer “{fresh.status}”"
            f"{': ' + ', '.join(fresh.found) if fresh.found else ''}; resolvers still have the old"
            " answer (propagation)."
        )
    return result


def check_all(
    records: list[Record], lookup: Lookup, host: MailHostDns, workers: int = 8, direct: Lookup | None = None
) -> list[Result]:
    """Every record, a few at a time: a slow or dead server costs at most its timeout per query."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda record: check_with_both(record, lookup, direct, host), records))
