"""A passkey authenticator in Python, for tests that sign in through Django's test client: it
makes and uses ES256 credentials exactly as WebAuthn says an authenticator and a browser do
(authenticator data, client data, "none" attestation), so the panel's checks run unchanged.
The browser tests use Chromium's own virtual authenticator instead."""

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    origin: str = "http://testserver"
    user_verified: bool = True
    counts: bool = True  # False: a passkey that always reports 0, as synced passkeys do
    credentials: list[Credential] = field(default_factory=list)

    def create(self, options: dict) -> str:
        """navigator.credentials.create(): a new credential for options["rp"]["id"]."""
        rp_id = options["rp"]["id"]
        credential = Credential(
            os.urandom(32), ec.generate_private_key(ec.SECP256R1()), rp_id, unb64u(options["user"]["id"])
        )
        self.credentials.append(credential)
        numbers = credential.key.public_key().public_numbers()
        cose_key = {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        attested = bytes(16) + struct.pack(">H", len(credential.credential_id)) + credential.credential_id
        auth_data = self._auth_data(credential, UP | AT | (UV if self.user_verified else 0)) + attested
        auth_data += cbor2.dumps(cose_key)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"])
        response = {
            "clientDataJSON": b64u(client_data),
            "attestationObject": b64u(attestation),
            "transports": ["internal"],
        }
        return self._credential_json(credential, response)

    def get(self, options: dict, credential: Credential | None = None, *, origin: str | None = None) -> str:
        """navigator.credentials.get(): an assertion by `credential` (by default the one the
        options allow, or the first this authenticator has for the RP)."""
        allowed = [unb64u(c["id"]) for c in options.get("allowCredentials", [])]
        if credential is None:
            credential = next(
                c
                for c in self.credentials
                if c.rp_id == options["rpId"] and (not allowed or c.credential_id in allowed)
            )
        if self.counts:
            credential.sign_count += 1
        auth_data = self._auth_data(credential, UP | (UV if self.user_verified else 0))
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = credential.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        response = {
            "clientDataJSON": b64u(client_data),
            "authenticatorData": b64u(auth_data),
            "signature": b64u(signature),
            "userHandle": b64u(credential.user_handle),
        }
        return self._credential_json(credential, response)

    def _auth_data(self, credential: Credential, flags: int) -> bytes:
        return (
            hashlib.sha256(credential.rp_id.encode()).digest()
            + bytes([flags])
            + struct.pack(">I", credential.sign_count)
        )

    def _client_data(self, kind: str, challenge: str, origin: str | None = None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        return json.dumps(data).encode()

    @staticmethod
    def _credential_json(credential: Credential, response: dict) -> str:
        identifier = b64u(credential.credential_id)
        return json.dumps(
            {
                "id": identifier,
                "rawId": identifier,
                "type": "public-key",
                "response": response,
                "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
            }
        )
