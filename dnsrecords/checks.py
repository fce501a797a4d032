"""Live DNS checks with dnspython: does what is published mean what the panel expects?

Each expected Record gets a Result: ok, missing, different (both values shown), conflicting
(two SPF or DMARC records, an MX target that is a CNAME or has no address, a PTR that does not
forward-confirm), or error (no answer in time). Meaning is compared, not strings: TXT strings
are joined, DKIM keys compared as bytes, DMARC and other tag lists as tags, and SPF evaluated
to prove the mail host's addresses pass within the limit of 10 DNS lookups.
"""

import base64
import ipaddress
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.resolver
import dns.reversename

from dnsrecords.expected import ABSENT, MailHostDns, Record

OK, MISSING, DIFFERENT, CONFLICTING, ERROR = "ok", "missing", "different", "conflicting", "error"
SPF_LOOKUP_LIMIT = 10


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
            except dns.resolver.NXDOMAIN:
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


def spf_evaluate(domain: str, address: str, lookup: Lookup, counter: list[int]) -> str:
    """RFC 7208 check_host() for the mechanisms a mail host uses: ip4, ip6, a, mx, include,
    redirect, all (exists and ptr are counted but never match). Returns pass, fail, softfail,
    neutral, none or permerror."""
    records = [t for t in lookup.txt(domain) if t.lower().startswith("v=spf1 ") or t.lower() == "v=spf1"]
    if not records:
        return "none"
    if len(records) > 1:
        return "permerror"
    ip = ipaddress.ip_address(address)
    qualifiers = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
    redirect = None
    for term in records[0].split()[1:]:
        if term.lower().startswith("redirect="):
            redirect = term.split("=", 1)[1]
            continue
        if "=" in term:
            continue  # other modifiers (exp=) do not change the result
        qualifier = qualifiers.get(term[0])
        mechanism = term[1:] if qualifier else term
        qualifier = qualifier or "pass"
        name, _, argument = mechanism.partition(":")
        name, _, cidr = name.lower().partition("/")
        target = argument.split("/")[0] if argument else domain
        if name in ("include", "a", "mx", "ptr", "exists"):
            counter[0] += 1
            if counter[0] > SPF_LOOKUP_LIMIT:
                return "permerror"
        if name == "all":
            return qualifier
        if name in ("ip4", "ip6"):
            if ip in ipaddress.ip_network(argument, strict=False):
                return qualifier
        elif name == "a":
            if _host_has(lookup, target, ip):
                return qualifier
        elif name == "mx":
            if any(_host_has(lookup, str(mx.exchange), ip) for mx in lookup(target, "MX")):
                return qualifier
        elif name == "include":
            result = spf_evaluate(target, address, lookup, counter)
            if result == "pass":
                return qualifier
            if result in ("permerror", "none"):
                return "permerror"
    if redirect:
        counter[0] += 1
        return spf_evaluate(redirect, address, lookup, counter) if counter[0] <= SPF_LOOKUP_LIMIT else "permerror"
    return "neutral"


def _host_has(lookup: Lookup, host: str, ip) -> bool:
    rdtype = "AAAA" if ip.version == 6 else "A"
    return any(ipaddress.ip_address(r.address) == ip for r in lookup(host, rdtype))


def check_spf(record: Record, lookup: Lookup, host: MailHostDns) -> Result:
    found, _ = _txt_with_prefix(lookup, record)
    if not found:
        return Result(record.key, MISSING, "No SPF record: receivers cannot tell which servers may send.")
    if len(found) > 1:
        return Result(record.key, CONFLICTING, f"{len(found)} SPF records: receivers treat this as an error.", found)
    problems = []
    counter = [0]
    for address in host.addresses:
        counter = [0]
        result = spf_evaluate(record.name, address, lookup, counter)
        if result != "pass":
            problems.append(f"the mail host {address} gets “{result}”")
    expected_all, live_all = record.value.split()[-1], found[0].split()[-1]
    if live_all != expected_all:
        problems.append(f"it ends with {live_all}, not {expected_all}")
    if problems:
        return Result(record.key, DIFFERENT, "; ".join(problems), found)
    return Result(record.key, OK, f"The mail host passes; {counter[0]} of {SPF_LOOKUP_LIMIT} lookups used.", found)


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


def check_tag_record(record: Record, lookup: Lookup, what: str, compare: tuple[str, ...]) -> Result:
    found, _ = _txt_with_prefix(lookup, record)
    if not found:
        return Result(record.key, MISSING, f"No {what} record.")
    if len(found) > 1:
        return Result(record.key, CONFLICTING, f"{len(found)} {what} records: receivers ignore them all.", found)
    live, wanted = tags(found[0]), tags(record.value)
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


def check_ptr(record: Record, lookup: Lookup, host: MailHostDns) -> Result:
    live = [str(r.target).rstrip(".").lower() for r in lookup(record.name, "PTR")]
    address = str(dns.reversename.to_address(dns.name.from_text(record.name)))
    if not live:
        return Result(record.key, MISSING, f"{address} has no reverse DNS; many receivers refuse such servers.")
    if host.hostname not in live:
        return Result(
            record.key, DIFFERENT, f"The reverse DNS of {address} names {', '.join(live)}, not {host.hostname}.", live
        )
    if not _host_has(lookup, host.hostname, ipaddress.ip_address(address)):
        return Result(
            record.key,
            CONFLICTING,
            f"{host.hostname} does not resolve back to {address} (not forward-confirmed).",
            live,
        )
    return Result(record.key, OK, "Reverse DNS names the mail host, and the mail host resolves back.", live)


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
        prefix = record.value.split(";")[0].split(" ")[0].lower()
        if prefix == "v=spf1":
            return check_spf(record, lookup, host)
        if prefix == "v=dkim1":
            return check_dkim(record, lookup)
        if prefix == "v=dmarc1":
            return check_tag_record(record, lookup, "DMARC", ("p", "sp", "pct", "aspf", "adkim", "fo", "rua", "ruf"))
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
