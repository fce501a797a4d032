"""Mailbox password hashes: yescrypt, the crypt(3) format both daemons verify.

One stored string serves Dovecot (a passwd-file passdb with scheme=CRYPT) and OpenSMTPD (PAM's
pam_pwdfile), both reading `user:$y$…` lines: OpenSMTPD verifies crypt(3) formats only, and
a second, stronger hash kept beside it would protect nothing once the database leaks (see the
README, "Mailbox password hashes"). yescrypt is memory-hard and Debian's own default for
/etc/shadow. We call the system's libxcrypt, the library the daemons themselves use, so a hash
made here is one they can verify.
"""

import ctypes
import ctypes.util
import hmac
import re

_PREFIX = b"$y$"
# crypt(3) schemes both Dovecot and OpenSMTPD verify (yescrypt, SHA-512, SHA-256, bcrypt): the
# renderer accepts only these, and the config preview masks them.
CRYPT_SCHEMES = ("y", "6", "5", "2b", "2y")
CRYPT_HASH = re.compile(r"\$(?:" + "|".join(CRYPT_SCHEMES) + r")\$[./0-9A-Za-z$]{8,200}")
_CRYPT_DATA_SIZE = 32768  # sizeof(struct crypt_data) in libxcrypt
_OUTPUT_SIZE = 256

_lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1", use_errno=True)
_lib.crypt_gensalt_rn.restype = ctypes.c_char_p
_lib.crypt_gensalt_rn.argtypes = [
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
    ctypes.c_int,
    ctypes.c_char_p,
    ctypes.c_int,
]
_lib.crypt_rn.restype = ctypes.c_char_p
_lib.crypt_rn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]


class HashError(RuntimeError):
    pass


def _crypt(password: str, setting: bytes) -> str:
    phrase = password.encode()
    if b"\0" in phrase:
        raise HashError("a password cannot contain a NUL byte")
    data = ctypes.create_string_buffer(_CRYPT_DATA_SIZE)
    result = _lib.crypt_rn(phrase, setting, data, _CRYPT_DATA_SIZE)
    # libxcrypt signals failure with NULL or a string starting with "*".
    if not result or result.startswith(b"*"):
        raise HashError("libxcrypt could not hash with this setting")
    return result.decode("ascii")


def make_hash(password: str, cost: int = 0) -> str:
    """A new yescrypt hash with a random salt from the OS (cost 0 = libxcrypt's default)."""
    output = ctypes.create_string_buffer(_OUTPUT_SIZE)
    # NULL random bytes: libxcrypt reads the salt from the OS's random source.
    setting = _lib.crypt_gensalt_rn(_PREFIX, cost, None, 0, output, _OUTPUT_SIZE)
    if not setting:
        raise HashError(f"crypt_gensalt failed (errno {ctypes.get_errno()})")
    return _crypt(password, setting)


def check_hash(password: str, stored: str) -> bool:
    if not CRYPT_HASH.fullmatch(stored):
        return False
    try:
        candidate = _crypt(password, stored.encode("ascii"))
    except (HashError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(candidate, stored)


# Checked against unknown accounts so that a failed login takes as long either way.
DUMMY_HASH = make_hash("not a real password")
