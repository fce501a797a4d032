"""Validation and normalisation of the names that end up in the daemons' files.

Everything the panel exports is line- and field-oriented: Dovecot's passwd-file splits on `:`,
OpenSMTPD's tables split on whitespace and `,`, and every file splits on newlines. So the rule
is an allowlist, not a blocklist: a local part is lowercase ASCII letters, digits, `.`, `-` and
`_` (plus `+` in external destinations), and a domain is an IDNA 2008 name stored as its
lowercase A-label. Anything else is refused with a message that names the problem, e.g.

    >>> normalize_local_part("Alice.Smith")
    'alice.smith'
    >>> normalize_domain("Bücher.Example")
    'xn--bcher-kva.example'
"""

import re
from functools import lru_cache

import idna
from django.core.exceptions import ValidationError

LOCAL_PART_MAX = 64
DOMAIN_MAX = 253
LABEL_MAX = 63

_LOCAL_CHARS = re.compile(r"[a-z0-9._-]+")
_DESTINATION_LOCAL_CHARS = re.compile(r"[a-z0-9._+=-]+")
_LDH_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


def _describe(char: str) -> str:
    names = {" ": "a space", "\t": "a tab", "\n": "a line break", "\r": "a line break", "\0": "a NUL byte"}
    if char in names:
        return names[char]
    if not char.isprintable():
        return f"the control character U+{ord(char):04X}"
    return f"“{char}”"


def _check_dots(value: str, what: str) -> None:
    if value.startswith("."):
        raise ValidationError(f"{what} cannot start with a dot.", code="leading_dot")
    if value.endswith("."):
        raise ValidationError(f"{what} cannot end with a dot.", code="trailing_dot")
    if ".." in value:
        raise ValidationError(f"{what} cannot contain two dots in a row.", code="double_dot")


def normalize_local_part(value: str, *, allow_plus: bool = False) -> str:
    """Return the local part in lowercase, or raise ValidationError saying what is wrong."""
    value = value.strip(" ").lower()
    if not value:
        raise ValidationError("Enter the part before the @.", code="required")
    allowed = _DESTINATION_LOCAL_CHARS if allow_plus else _LOCAL_CHARS
    if not allowed.fullmatch(value):
        bad = next(c for c in value if not allowed.fullmatch(c))
        if bad == "+" and not allow_plus:
            raise ValidationError(
                "“+” is reserved for sub-addressing (name+tag@domain reaches name@domain).", code="plus"
            )
        if bad == "@":
            raise ValidationError("Enter only the part before the @.", code="at_sign")
        extra = " and +" if allow_plus else ""
        raise ValidationError(
            f"The part before the @ cannot contain {_describe(bad)}: use letters a–z, digits, “.”, “-” and “_”{extra}.",
            code="invalid_character",
        )
    if len(value) > LOCAL_PART_MAX:
        raise ValidationError(f"The part before the @ can have at most {LOCAL_PART_MAX} characters.", code="too_long")
    _check_dots(value, "The part before the @")
    return value


def normalize_domain(value: str) -> str:
    """Return the domain as a lowercase IDNA 2008 A-label, or raise ValidationError."""
    value = value.strip(" ")
    if value.endswith(".") and not value.endswith(".."):
        value = value[:-1]  # a fully qualified name with its root dot is the same domain
    if not value:
        raise ValidationError("Enter a domain name.", code="required")
    bad = next((c for c in value if c.isspace() or not c.isprintable() or c in ":/#@,|\\\"'<>;"), None)
    if bad:
        raise ValidationError(f"A domain name cannot contain {_describe(bad)}.", code="invalid_character")
    _check_dots(value, "A domain name")
    if value.isascii() and len(value) > DOMAIN_MAX:
        raise ValidationError(f"A domain name can have at most {DOMAIN_MAX} characters.", code="too_long")
    if any(len(label.encode()) > LABEL_MAX for label in value.split(".") if label.isascii()):
        raise ValidationError(
            f"Each part of a domain name can have at most {LABEL_MAX} characters.", code="label_too_long"
        )
    try:
        ascii_name = idna.encode(value, uts46=True).decode("ascii")
    except idna.IDNAError as e:
        raise ValidationError(f"“{value}” is not a valid internationalised domain name ({e}).", code="idna") from None
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise ValidationError("Enter a full domain name such as example.org.", code="single_label")
    for label in labels:
        if len(label) > LABEL_MAX:
            raise ValidationError(
                f"Each part of a domain name can have at most {LABEL_MAX} characters.", code="label_too_long"
            )
        if not _LDH_LABEL.fullmatch(label):
            raise ValidationError(
                f"“{label}” is not a valid domain label: use letters, digits and inner hyphens.", code="invalid_label"
            )
    if labels[-1].isdigit():
        raise ValidationError("The last part of a domain name cannot be all digits.", code="numeric_tld")
    if len(ascii_name) > DOMAIN_MAX:
        raise ValidationError(f"A domain name can have at most {DOMAIN_MAX} characters.", code="too_long")
    return ascii_name


def normalize_address(value: str, *, allow_plus: bool = True) -> str:
    """Return local@a-label for a full address, or raise ValidationError."""
    value = value.strip()
    if value.count("@") != 1:
        raise ValidationError(f"“{value}” is not an email address (it needs exactly one @).", code="not_address")
    local, domain = value.split("@")
    try:
        return f"{normalize_local_part(local, allow_plus=allow_plus)}@{normalize_domain(domain)}"
    except ValidationError as e:
        raise ValidationError(f"“{value}”: {e.messages[0]}", code=e.code) from None


@lru_cache(maxsize=8192)
def display_domain(ascii_name: str) -> str:
    """The U-label form for people; falls back to the stored A-label if it cannot be decoded.
    Cached: a page of 50 rows asks for the same few names hundreds of times."""
    try:
        return idna.decode(ascii_name)
    except idna.IDNAError:
        return ascii_name
