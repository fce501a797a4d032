"""The password cell of an imported line: empty, plain text (hashed on import) or a hash kept as it is.

A hash is kept only if both daemons verify it: the crypt(3) schemes the renderer writes
(accounts.mailpasswords.CRYPT_HASH: yescrypt, SHA-512, SHA-256, bcrypt), complete, in the
shape libxcrypt makes them. Dovecot's scheme prefixes for those ({CRYPT}, {SHA512-CRYPT},
{SHA256-CRYPT}, {BLF-CRYPT}) are taken off, since OpenSMTPD reads the bare crypt(3) string.

A cell is read as a hash when it starts like one, `$id$` or `{SCHEME}`; anything else is a
plain-text password. The shape is checked with regular expressions, not by asking libxcrypt:
a dry run of 10,000 hashes must not cost 10,000 hash computations. Error messages name the
scheme, never the cell's text.

    >>> classify("$y$j9T$V4E/kdPmAILaY/SWVXy9h/$Qt0pwredvm725Ch8Si.3qji7PgkZ6M5oncmOFNaCDQ2").kind
    'hash'
    >>> classify("{SHA512-CRYPT}$6$salt$" + "a" * 86).hash.startswith("$6$salt$")
    True
    >>> classify("correct horse battery staple").kind
    'plain'
    >>> classify("$1$salt$hash").error[:50]
    'the password is an MD5-crypt hash ($1$): too weak '
"""

import re
from dataclasses import dataclass

from accounts.mailpasswords import CRYPT_HASH

_B64 = "[./0-9A-Za-z]"
SHAPES = {
    "y": re.compile(rf"\$y\${_B64}+\${_B64}{{1,86}}\${_B64}{{43}}"),
    "6": re.compile(rf"\$6\${_B64}{{1,16}}\${_B64}{{86}}"),
    "5": re.compile(rf"\$5\${_B64}{{1,16}}\${_B64}{{43}}"),
    "2b": re.compile(rf"\$2b\$(0[4-9]|[12][0-9]|3[01])\${_B64}{{53}}"),
    "2y": re.compile(rf"\$2y\$(0[4-9]|[12][0-9]|3[01])\${_B64}{{53}}"),
}
NAMES = {"y": "yescrypt", "6": "SHA-512-crypt", "5": "SHA-256-crypt", "2b": "bcrypt", "2y": "bcrypt"}
ACCEPTED = "$y$ (yescrypt), $6$ (SHA-512-crypt), $5$ (SHA-256-crypt) or $2b$/$2y$ (bcrypt)"
# Dovecot's prefixes whose value is one of those crypt(3) strings, and the ids each may hold.
DOVECOT_CRYPT = {
    "CRYPT": set(SHAPES),
    "SHA512-CRYPT": {"6"},
    "SHA256-CRYPT": {"5"},
    "BLF-CRYPT": {"2b", "2y"},
}
REFUSED = {
    "1": "an MD5-crypt hash ($1$): too weak to keep",
    "apr1": "an Apache MD5 hash ($apr1$): too weak to keep",
    "2a": "a bcrypt hash of the old $2a$ kind, which not every libxcrypt reads alike",
    "argon2id": "an argon2id hash: Dovecot verifies it, OpenSMTPD cannot",
    "argon2i": "an argon2i hash: Dovecot verifies it, OpenSMTPD cannot",
    "7": "a scrypt hash ($7$), which this panel does not write",
    "gy": "a gost-yescrypt hash ($gy$), which this panel does not write",
}
_CRYPT_ID = re.compile(r"\$([0-9a-z]{1,8})\$")
_SCHEME = re.compile(r"\{([A-Za-z0-9._-]{1,32})\}")


@dataclass(frozen=True)
class Password:
    kind: str  # "" (none given), "plain" or "hash"
    hash: str = ""
    error: str = ""


def classify(value: str) -> Password:
    if value == "":
        return Password("")
    if scheme := _SCHEME.match(value):
        name, rest = scheme.group(1).upper(), value[scheme.end() :]
        ids = DOVECOT_CRYPT.get(name)
        crypt_id = _CRYPT_ID.match(rest)
        if ids is None:
            return _refused(f"a {{{name}}} hash: OpenSMTPD verifies crypt(3) hashes only")
        if crypt_id is None or crypt_id.group(1) not in ids:
            return _refused(f"a {{{name}}} value that is not a {' or '.join('$' + i + '$' for i in sorted(ids))} hash")
        return _crypt(rest, crypt_id.group(1))
    if crypt_id := _CRYPT_ID.match(value):
        return _crypt(value, crypt_id.group(1))
    return Password("plain")


def _crypt(value: str, crypt_id: str) -> Password:
    if crypt_id in REFUSED:
        return _refused(REFUSED[crypt_id])
    shape = SHAPES.get(crypt_id)
    if shape is None:
        return _refused(f"a ${crypt_id}$ hash, a scheme this panel does not know")
    if "rounds=" in value:
        return _refused(f"a {NAMES[crypt_id]} hash with a rounds= setting, which the exported files cannot hold")
    if not (shape.fullmatch(value) and CRYPT_HASH.fullmatch(value)):
        return _refused(f"a {NAMES[crypt_id]} hash (${crypt_id}$) that is incomplete or damaged")
    return Password("hash", hash=value)


def _refused(reason: str) -> Password:
    return Password(
        "hash",
        error=f"the password is {reason}. Give the password in plain text, or a {ACCEPTED} hash "
        "(a password starting with $…$ or {…} is read as a hash)",
    )
