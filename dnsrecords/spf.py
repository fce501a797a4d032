"""SPF (RFC 7208) in one place: its facts, its terms parsed by the grammar of section 12, and
check_host() for the live check.

`parse_term("ip4:300.1.1.1/40")` raises SpfSyntaxError with a message for the person who must fix
it: “ip4:300.1.1.1/40”: 300.1.1.1 is not an IPv4 address (…). The parser follows the grammar
exactly, so it accepts what receivers accept (`include:-bad.example` is grammatical, though no
host has that name); `host_name_problem()` is the stricter rule for records the panel advises.

`check_host()` never raises for anything a published record can hold: a malformed record, ours or
one reached through include: or redirect=, gives "permerror" with the reason, as a receiver would
treat it. Only the resolver's own exception (no answer in time) passes through, since it says
nothing about the record.
"""

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass
from typing import Protocol

VERSION = "v=spf1"
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
# RFC 7208 §4.6.4: these mechanisms, and the redirect= modifier, each cost a DNS lookup; a check
# that needs more than MAX_LOOKUPS of them, or more than MAX_VOID_LOOKUPS that find nothing, is
# a permerror. An mx mechanism naming more than MAX_MX_NAMES hosts is one too; a ptr mechanism
# looks at MAX_PTR_NAMES names at most.
LOOKUP_MECHANISMS = ("include", "a", "mx", "ptr", "exists")
LOOKUP_MODIFIERS = ("redirect",)
MAX_LOOKUPS = 10
MAX_VOID_LOOKUPS = 2
MAX_MX_NAMES = 10
MAX_PTR_NAMES = 10
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
MODIFIERS = ("redirect", "exp")  # the known ones; each may appear once
MACRO_LETTERS = "slodiphv"
EXP_ONLY_MACRO_LETTERS = "crt"  # §7.3: only in the explanation text, never in a domain name
MAX_NAME_LENGTH = 253

_LIKELY_MEANT = {"ip": "ip4", "ipv4": "ip4", "ipv6": "ip6", "prt": "ptr"}
_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)=(.*)", re.DOTALL)
_MECHANISM_NAME = re.compile(r"[A-Za-z0-9]*")
_CIDR_SUFFIX = re.compile(r"(?:/(\d*))?(?://(\d*))?$")
_QNUM = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IP4 = re.compile(rf"{_QNUM}(?:\.{_QNUM}){{3}}")
_IP6_CHARACTERS = re.compile(r"[0-9A-Fa-f:.]+")
_MACRO = re.compile(r"%\{([A-Za-z])([0-9]*)([rR]?)([.\-+,/_=]*)\}")
_MACRO_TOKEN = re.compile(_MACRO.pattern + r"|%%|%_|%-")
_HOST_LABEL = re.compile(r"[A-Za-z0-9_-]+")
_LDH = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


class SpfSyntaxError(ValueError):
    """A term or record receivers reject (permerror); str() says which term and what to fix."""

    def __init__(self, problem: str, term: str = "") -> None:
        super().__init__(f"“{term}”: {problem}" if term else problem)
        self.problem, self.term = problem, term


class _Bad(Exception):
    """A problem found inside a term, before the term is known to the message."""


@dataclass(frozen=True)
class Directive:
    text: str
    qualifier: str  # a key of QUALIFIERS
    mechanism: str  # one of MECHANISMS, lower case
    domain_spec: str = ""  # empty: the domain being checked (a, mx, ptr)
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None  # ip4 and ip6
    cidr4: int = 32  # a and mx: how much of each address found must match
    cidr6: int = 128

    @property
    def result(self) -> str:
        return QUALIFIERS[self.qualifier]


@dataclass(frozen=True)
class Modifier:
    text: str
    name: str  # lower case
    value: str


Term = Directive | Modifier


# --- the grammar (RFC 7208 section 12) ----------------------------------------------------------


def select_records(txt_values: list[str]) -> list[str]:
    """The SPF records among a name's TXT values (§4.5): "v=spf1" alone or followed by a space."""
    return [t for t in txt_values if t.lower() == VERSION or t.lower().startswith(VERSION + " ")]


def parse_record(text: str) -> list[Term]:
    version, _, rest = text.partition(" ")
    if version.lower() != VERSION:
        raise SpfSyntaxError(f"an SPF record starts with {VERSION} and a space")
    terms = [parse_term(t) for t in rest.split(" ") if t]
    for name in MODIFIERS:
        if sum(1 for t in terms if isinstance(t, Modifier) and t.name == name) > 1:
            raise SpfSyntaxError(f"{name}= may appear only once in a record")
    return terms


def parse_term(text: str) -> Term:
    """One directive (mechanism with its qualifier) or modifier; SpfSyntaxError when receivers
    would reject it."""
    try:
        if not text:
            raise _Bad("an empty term")
        for character in text:
            if not "!" <= character <= "~":
                shown = "a space" if character.isspace() else f"“{character}”"
                raise _Bad(
                    f"{shown} cannot appear in SPF (visible ASCII characters only; write an international"
                    " domain name in its xn-- form)"
                )
        if modifier := _MODIFIER.fullmatch(text):
            return _modifier(text, modifier[1].lower(), modifier[2])
        return _directive(text)
    except _Bad as e:
        raise SpfSyntaxError(str(e), text) from None


def lookups_needed(terms: list[Term]) -> int:
    """The DNS lookups these terms cost themselves (§4.6.4); what an include: reaches costs more."""
    return sum(
        1
        for t in terms
        if (isinstance(t, Directive) and t.mechanism in LOOKUP_MECHANISMS)
        or (isinstance(t, Modifier) and t.name in LOOKUP_MODIFIERS)
    )


def host_name_problem(domain_spec: str) -> str | None:
    """Stricter than the grammar, for records the panel advises: once its macros are expanded,
    the name must be one DNS can hold and a host can have (letters, digits, “-” and “_” in parts
    of at most 63 characters, no part starting or ending with “-”)."""
    name = _MACRO.sub("x", domain_spec).removesuffix(".")
    if len(name) > MAX_NAME_LENGTH:
        return f"{domain_spec} is longer than a domain name can be ({MAX_NAME_LENGTH} characters)"
    for label in name.split("."):
        if not label:
            return f"{domain_spec} has an empty part (a dot at the start, or two dots in a row)"
        if len(label) > 63:
            return f"“{label[:20]}…” is longer than a part of a domain name can be (63 characters)"
        if not _HOST_LABEL.fullmatch(label):
            return f"“{label}” may hold only letters, digits, “-” and “_”"
        if label.startswith("-") or label.endswith("-"):
            return f"a part of a domain name cannot start or end with “-”, as “{label}” does"
    return None


def _directive(text: str) -> Directive:
    qualifier = text[0] if text[0] in QUALIFIERS else "+"
    body = text[1:] if text[0] in QUALIFIERS else text
    name = _MECHANISM_NAME.match(body)[0]
    mechanism, rest = name.lower(), body[len(name) :]
    if mechanism not in MECHANISMS:
        if body[:1] in QUALIFIERS:
            raise _Bad("only one of + - ~ ? may stand before a mechanism")
        hint = f"; did you mean {_LIKELY_MEANT[mechanism]}?" if mechanism in _LIKELY_MEANT else ""
        raise _Bad(f"{name or body} is not an SPF mechanism (they are {', '.join(MECHANISMS)}){hint}")
    if mechanism == "all":
        if rest:
            raise _Bad("“all” takes nothing after it")
        return Directive(text, qualifier, mechanism)
    if mechanism in ("ip4", "ip6"):
        return _ip_directive(text, qualifier, mechanism, rest)
    cidr4, cidr6 = 32, 128
    cidr = _CIDR_SUFFIX.search(rest)
    if cidr[0] and mechanism not in ("a", "mx"):
        raise _Bad(f"{mechanism} takes no /length; only a, mx, ip4 and ip6 do")
    if cidr[0]:
        cidr4 = _prefix_length(cidr[1], 32, "IPv4")
        cidr6 = _prefix_length(cidr[2], 128, "IPv6")
        rest = rest[: cidr.start()]
    if rest and not rest.startswith(":"):
        example = {"a": "a:mail.example.com/24", "mx": "mx:example.com", "ptr": "ptr:example.com"}
        raise _Bad(f"write {mechanism}, or {example.get(mechanism, mechanism + ':example.com')}")
    spec = rest[1:]
    if rest == ":" or (mechanism in ("include", "exists") and not spec):
        optional = f" (or write {mechanism} alone for the domain itself)" if mechanism in ("a", "mx", "ptr") else ""
        raise _Bad(f"a domain name must follow “{mechanism}:”{optional}")
    if mechanism in ("a", "mx") and (_IP4.fullmatch(spec) or _is_ip6(spec)):
        family = "ip4" if _IP4.fullmatch(spec) else "ip6"
        raise _Bad(f"{mechanism}: takes a host name; to allow the address itself, write {family}:{spec}")
    if spec:
        _check_domain_spec(spec)
    return Directive(text, qualifier, mechanism, spec, cidr4=cidr4, cidr6=cidr6)


def _ip_directive(text: str, qualifier: str, mechanism: str, rest: str) -> Directive:
    family, example = ("IPv4", "192.0.2.1") if mechanism == "ip4" else ("IPv6", "2001:db8::1")
    if not rest.startswith(":") or rest == ":":
        raise _Bad(f"an {family} address must follow “{mechanism}:”, like {mechanism}:{example}")
    if "//" in rest:
        raise _Bad(f"{mechanism} takes one /length; the //length form belongs to a and mx")
    address, slash, length = rest[1:].partition("/")
    maximum = 32 if mechanism == "ip4" else 128
    if mechanism == "ip4" and not _IP4.fullmatch(address):
        numbers = address.split(".")
        if len(numbers) == 4 and all(n.isdigit() and len(n) <= 3 and int(n) <= 255 for n in numbers):
            raise _Bad(f"write {address} without leading zeros")
        raise _Bad(f"{address} is not an IPv4 address (four numbers from 0 to 255, like {example})")
    if mechanism == "ip6" and not _is_ip6(address):
        raise _Bad(f"{address} is not an IPv6 address (like {example})")
    cidr = _prefix_length(length if slash else None, maximum, family)
    return Directive(text, qualifier, mechanism, network=ipaddress.ip_network(f"{address}/{cidr}", strict=False))


def _is_ip6(address: str) -> bool:
    # ipaddress also takes a zone ("fe80::1%eth0"), which SPF does not.
    if not _IP6_CHARACTERS.fullmatch(address):
        return False
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return True


def _prefix_length(digits: str | None, maximum: int, family: str) -> int:
    if digits is None:
        return maximum
    if digits == "":
        raise _Bad(f"a prefix length (0 to {maximum}) must follow “/”")
    if (len(digits) > 1 and digits.startswith("0")) or len(digits) > 3 or int(digits) > maximum:
        raise _Bad(f"/{digits} is not an {family} prefix length (a number from 0 to {maximum}, no leading zero)")
    return int(digits)


def _modifier(text: str, name: str, value: str) -> Modifier:
    if name in MODIFIERS:
        if not value:
            raise _Bad(f"a domain name must follow “{name}=”")
        _check_domain_spec(value)
    else:
        _macro_ends(value)  # an unknown modifier is ignored, but its macros must still be valid
    return Modifier(text, name, value)


def _check_domain_spec(spec: str) -> None:
    """domain-spec = macro-string domain-end: it ends in a macro or in "." toplabel ["."]."""
    ends = _macro_ends(spec)
    if len(spec) in ends:
        return
    tail = spec[max(ends, default=0) :].removesuffix(".")
    _, dot, toplabel = tail.rpartition(".")
    if not dot:
        raise _Bad(f"{spec} is not a full domain name (like mail.example.com)")
    if toplabel.isdigit():
        raise _Bad(f"{spec} cannot end in {toplabel}: the last part of a domain name needs a letter")
    if not _is_toplabel(toplabel):
        raise _Bad(f"{spec} does not end in a domain name (letters, digits and “-” after the last dot)")


def _is_toplabel(label: str) -> bool:
    """toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ),
    checked without a regular expression, which would backtrack for quadratic time on a long one."""
    if not label or not all(c in _LDH for c in label):
        return False
    if "-" in label:
        return label[0] != "-" and label[-1] != "-"
    return any(c.isalpha() for c in label)


def _macro_ends(value: str) -> set[int]:
    """Where each macro in value ends; _Bad for anything after a “%” that is not a macro."""
    ends, start = set(), 0
    while (start := value.find("%", start)) != -1:
        token = _MACRO_TOKEN.match(value, start)
        if token is None:
            close = value.find("}", start)
            shown = (
                value[start : close + 1] if value.startswith("%{", start) and close != -1 else value[start : start + 2]
            )
            raise _Bad(f"{shown} is not an SPF macro: write %% for a percent sign, or a macro like %{{d}}")
        if token[1]:
            letter = token[1].lower()
            if letter in EXP_ONLY_MACRO_LETTERS:
                raise _Bad(f"the macro {token[0]} may appear only in an explanation's text, not in a domain name")
            if letter not in MACRO_LETTERS:
                raise _Bad(f"{token[0]}: {token[1]} is not a macro letter (they are s, l, o, d, i, p, h, v)")
            if token[2] and not token[2].strip("0"):
                raise _Bad(f"{token[0]}: the number of parts to keep must be at least 1 (RFC 7208 §7.3)")
        start = token.end()
        ends.add(start)
    return ends


# --- check_host() (RFC 7208 sections 4 and 5) ---------------------------------------------------


class Resolver(Protocol):
    """Answers as dnspython rdata, [] for no answer; raises its own exception when it cannot tell."""

    def __call__(self, name: str, rdtype: str) -> list: ...

    def txt(self, name: str) -> list[str]: ...


@dataclass(frozen=True)
class Verdict:
    result: str  # pass, fail, softfail, neutral, none or permerror
    lookups: int  # of MAX_LOOKUPS
    reason: str = ""  # for permerror and none: what is wrong, and where


class _PermError(Exception):
    pass


class _LimitReached(_PermError):
    """A limit of §4.6.4: said once, not once per include: level it happened under."""


@dataclass
class _Walk:
    resolve: Resolver
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    sender: str
    helo: str
    lookups: int = 0
    voids: int = 0

    @property
    def address_type(self) -> str:
        return "AAAA" if self.ip.version == 6 else "A"

    def count_lookup(self, term: str) -> None:
        self.lookups += 1
        if self.lookups > MAX_LOOKUPS:
            raise _LimitReached(
                f"the record needs more than {MAX_LOOKUPS} DNS lookups, counting those of what it includes (the"
                f" limit is reached at “{term}”); receivers stop there (RFC 7208 §4.6.4)"
            )

    def query(self, name: str, rdtype: str, term: str, counts_void: bool = True) -> list:
        answers = self.resolve(name, rdtype) if _queryable(name) else []
        if not answers and counts_void:
            self.voids += 1
            if self.voids > MAX_VOID_LOOKUPS:
                raise _LimitReached(
                    f"more than {MAX_VOID_LOOKUPS} of the record's lookups find nothing (the last at “{term}”);"
                    " receivers stop there (RFC 7208 §4.6.4)"
                )
        return answers


def check_host(domain: str, address: str, resolve: Resolver, *, sender: str = "", helo: str = "") -> Verdict:
    """What a receiver concludes about mail from `address` for `domain` (§4), with the sender
    postmaster@domain unless given."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    walk = _Walk(resolve, ip, sender or f"postmaster@{domain}", helo or domain)
    try:
        result = _evaluate(walk, domain.rstrip(".").lower())
    except _PermError as e:
        return Verdict("permerror", walk.lookups, str(e))
    if result == "none":
        return Verdict("none", walk.lookups, f"{domain} publishes no SPF record")
    return Verdict(result, walk.lookups)


def _evaluate(walk: _Walk, domain: str) -> str:
    if not _queryable(domain) or "." not in domain:
        return "none"  # §4.3: a malformed or single-label domain
    records = select_records(walk.resolve.txt(domain))
    if not records:
        return "none"
    if len(records) > 1:
        raise _PermError(f"{domain} publishes {len(records)} SPF records; there must be one")
    try:
        terms = parse_record(records[0])
    except SpfSyntaxError as e:
        raise _PermError(str(e)) from None
    for term in terms:
        if isinstance(term, Directive) and _matches(walk, term, domain):
            return term.result
    redirect = next((t for t in terms if isinstance(t, Modifier) and t.name == "redirect"), None)
    if redirect is None:
        return "neutral"
    walk.count_lookup(redirect.text)
    target = _expand(walk, redirect.value, domain)
    result = _evaluate_elsewhere(walk, target, redirect.text)
    if result == "none":
        raise _PermError(f"“{redirect.text}”: {target} publishes no SPF record")
    return result


def _evaluate_elsewhere(walk: _Walk, target: str, term: str) -> str:
    try:
        return _evaluate(walk, target)
    except _LimitReached:
        raise
    except _PermError as e:
        raise _PermError(f"in the SPF record of {target}, reached through “{term}”: {e}") from None


def _matches(walk: _Walk, directive: Directive, domain: str) -> bool:
    mechanism, term = directive.mechanism, directive.text
    if mechanism == "all":
        return True
    if mechanism in ("ip4", "ip6"):
        return directive.network.version == walk.ip.version and walk.ip in directive.network
    walk.count_lookup(term)
    target = _expand(walk, directive.domain_spec, domain) if directive.domain_spec else domain
    if mechanism == "include":
        result = _evaluate_elsewhere(walk, target, term)
        if result == "none":
            raise _PermError(f"“{term}”: {target} publishes no SPF record")
        return result == "pass"
    if mechanism == "a":
        return _in_networks(walk, walk.query(target, walk.address_type, term), directive)
    if mechanism == "mx":
        exchanges = [str(mx.exchange).rstrip(".") for mx in walk.query(target, "MX", term)]
        if len(exchanges) > MAX_MX_NAMES:
            raise _PermError(f"“{term}”: {target} has {len(exchanges)} MX records; SPF looks at {MAX_MX_NAMES} at most")
        return any(
            _in_networks(walk, walk.query(name, walk.address_type, term, counts_void=False), directive)
            for name in exchanges
            if name
        )
    if mechanism == "ptr":
        target = target.lower()
        return any(n == target or n.endswith("." + target) for n in _validated_names(walk, term))
    return bool(walk.query(target, "A", term))  # exists: any A record, whatever the address family (§5.7)


def _in_networks(walk: _Walk, records: list, directive: Directive) -> bool:
    length = directive.cidr6 if walk.ip.version == 6 else directive.cidr4
    return any(walk.ip in ipaddress.ip_network(f"{r.address}/{length}", strict=False) for r in records)


def _validated_names(walk: _Walk, term: str, counts_void: bool = True) -> list[str]:
    """The names of the address's PTR records that resolve back to it (§5.5)."""
    names = [str(r.target).rstrip(".").lower() for r in walk.query(walk.ip.reverse_pointer, "PTR", term, counts_void)]
    return [
        name
        for name in names[:MAX_PTR_NAMES]
        if any(ipaddress.ip_address(r.address) == walk.ip for r in walk.query(name, walk.address_type, term, False))
    ]


def _expand(walk: _Walk, spec: str, domain: str) -> str:
    """A domain-spec with its macros expanded (§7.3), cut from the left to at most 253 characters."""

    def one(token: re.Match) -> str:
        if not token[1]:
            return {"%%": "%", "%_": " ", "%-": "%20"}[token[0]]
        parts = re.split("[" + re.escape(token[4] or ".") + "]", _macro_value(walk, token[1].lower(), domain))
        if token[3]:
            parts.reverse()
        if token[2]:
            parts = parts[-_part_count(token[2]) :]
        value = ".".join(parts)
        return urllib.parse.quote(value, safe="") if token[1].isupper() else value

    name = _MACRO_TOKEN.sub(one, spec).removesuffix(".")
    while len(name) > MAX_NAME_LENGTH and "." in name:
        name = name.partition(".")[2]
    return name


def _part_count(digits: str) -> int:
    # Far more parts than a name has means all of them; int() of a huge one would raise.
    significant = digits.lstrip("0")
    return int(significant) if len(significant) <= 3 else 1000


def _macro_value(walk: _Walk, letter: str, domain: str) -> str:
    local, _, sender_domain = walk.sender.rpartition("@")
    if letter == "i":
        return str(walk.ip) if walk.ip.version == 4 else ".".join(walk.ip.exploded.replace(":", ""))
    if letter == "p":
        names = _validated_names(walk, "%{p}", counts_void=False)
        exact = [n for n in names if n == domain] or [n for n in names if n.endswith("." + domain)] or names
        return exact[0] if exact else "unknown"
    return {
        "s": walk.sender,
        "l": local or "postmaster",
        "o": sender_domain,
        "d": domain,
        "v": "in-addr" if walk.ip.version == 4 else "ip6",
        "h": walk.helo,
    }[letter]


def _queryable(name: str) -> bool:
    """A name DNS can ask about; anything else finds nothing, as a receiver's lookup would."""
    labels = name.removesuffix(".").split(".")
    return (
        0 < len(name.removesuffix(".")) <= MAX_NAME_LENGTH
        and all(0 < len(label) <= 63 for label in labels)
        and "\\" not in name  # dnspython would read it as an escape
    )
