"""DKIM keys: generated with `cryptography`, stored encrypted, exported in the form Rspamd reads.

Private keys are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256) under
DKIM_ENCRYPTION_KEY; the panel decrypts them only to hand them to the exporter, and never
renders them into a page. Rspamd reads RSA keys as PEM and Ed25519 keys only as the base64 of
the raw seed: it silently ignores an Ed25519 PEM and sends mail unsigned.
"""

import base64
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from core.sealed import seal, unseal

# A selector is one lowercase DNS label; its record is <selector>._domainkey.<domain>.
SELECTOR = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def record_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


RSA = "rsa"
ED25519 = "ed25519"
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class GeneratedKey:
    algorithm: str
    bits: int
    private_export: bytes  # what Rspamd reads: PEM for RSA, base64 raw seed for Ed25519
    public_key: str  # the p= value of the DNS record


def generate(algorithm: str = RSA, bits: int = 2048) -> GeneratedKey:
    if algorithm == RSA:
        if bits < MIN_RSA_BITS:
            raise ValueError(f"RSA keys shorter than {MIN_RSA_BITS} bits are refused")
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return GeneratedKey(RSA, bits, private, base64.b64encode(public).decode())
    if algorithm == ED25519:
        key = ed25519.Ed25519PrivateKey.generate()
        seed = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return GeneratedKey(ED25519, 256, base64.b64encode(seed) + b"\n", base64.b64encode(public).decode())
    raise ValueError(f"unknown DKIM algorithm {algorithm!r}")


def encrypt(private_export: bytes) -> str:
    return seal(private_export)


def decrypt(token: str) -> bytes:
    return unseal(token, "a DKIM private key")
