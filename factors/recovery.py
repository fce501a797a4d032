"""Recovery codes: ten one-time codes, shown once, stored only as salted SHA-256.

Each code is 12 characters from a 30-letter alphabet without look-alikes (no 0/O, 1/I/L, U):
about 59 bits, so a fast hash is enough (nobody can try 2^59 codes through a throttled form, and
a stolen table gives nothing to guess from); checking all ten costs microseconds, where a
password hash each would cost a second.
"""

import hashlib
import hmac
import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
LENGTH = 12
COUNT = 10


def new_codes(count: int = COUNT) -> list[str]:
    return [_shown("".join(secrets.choice(ALPHABET) for _ in range(LENGTH))) for _ in range(count)]


def _shown(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, LENGTH, 4))


def normalize(code: str) -> str | None:
    """A typed code without spaces and dashes, in capitals, or None if it cannot be one."""
    code = code.replace("-", "").replace(" ", "").upper()
    if len(code) != LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def make_hash(code: str) -> str:
    salt = secrets.token_hex(16)
    return f"sha256${salt}${_digest(salt, normalize(code) or '')}"


def _digest(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def matches(code: str, stored: str) -> bool:
    normalized = normalize(code)
    scheme, _, rest = stored.partition("$")
    salt, _, digest = rest.partition("$")
    if normalized is None or scheme != "sha256":
        return False
    return hmac.compare_digest(_digest(salt, normalized), digest)
