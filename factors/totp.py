"""Authenticator apps (TOTP, RFC 6238): 30-second steps, 6 digits, one step of clock skew either way.

A code is accepted once: the caller stores the step it matched (`Match.step`) and refuses any
step at or before the stored one, so a code seen over a shoulder or replayed is worthless.
"""

import re
import time
from dataclasses import dataclass

import pyotp
import segno

DIGITS = 6
INTERVAL = 30
VALID_WINDOW = 1  # steps either side of now: a phone whose clock is up to 30 s off still works


@dataclass(frozen=True)
class Match:
    step: int


def new_secret() -> str:
    return pyotp.random_base32()  # 32 characters: 160 bits, as RFC 4226 recommends


def is_plain_key(value: str) -> bool:
    """A key as apps read it (base32, upper case), not a sealed one (core.sealed)."""
    return re.fullmatch(r"[A-Z2-7]{16,}=*", value) is not None


def normalize_code(code: str) -> str | None:
    """Six ASCII digits, spaces between them allowed ("123 456"), or None."""
    code = code.replace(" ", "")
    # isdigit() alone would take "١٢٣٤٥٦" (Arabic-Indic digits) and superscripts.
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    return code


def match(secret: str, code: str, *, after_step: int | None, now: float | None = None) -> Match | None:
    """The step `code` is valid for, if it is within the window and later than `after_step`."""
    code = normalize_code(code)
    if code is None or not secret:
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
    current = totp.timecode(time.time() if now is None else now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if after_step is not None and step <= after_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return Match(step)
    return None


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (no script, no image request)."""
    return segno.make(uri, error="m").svg_inline(scale=4, title="QR code for your authenticator app")


def grouped(secret: str) -> str:
    """The secret in groups of four, as people type it into an app."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
