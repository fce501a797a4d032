"""The DKIM keys a hand-built host signs with: Rspamd's dkim_signing.conf and the key files it names.

Rspamd chooses a key per domain (use_domain = "header": the From: domain) from, in order:
a `domain { NAME { … } }` block (one `path` and `selector`, or a `selectors [ … ]` list), and,
with `try_fallback` (true unless set false), the top-level `path` template, in which `$domain`
and `$selector` are replaced (the selector from `selector_map`, else the top-level `selector`,
else "dkim", Rspamd's default); a domain whose file does not exist is not signed. This module
finds, for each domain received here, the keys that sign its mail today, and reads each one the
way Rspamd does (RSA as PEM, PKCS#1 or PKCS#8; Ed25519 as base64 of the 32-byte seed or of
seed and public key). An Ed25519 key in PEM is read too, but Rspamd cannot use it (measured,
REAL_DAEMONS.md §7): the host sends that signature today only if another key of the domain
signs, so the report says the signature appears after adoption.

The private key is returned in the form the panel stores and renders (domains.dkim: PKCS#8 PEM
for RSA, base64 seed for Ed25519) and is encrypted at rest when written (adopt.actions).
"""

import base64
import binascii
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.core.exceptions import ValidationError

from adopt.parsers import Problem, UclError, Value, Where, table_file, ucl
from adopt.sources import Missing, Source
from core.addresses import normalize_domain
from domains import dkim

MIN_BITS = 1024  # RFC 8301: verifiers ignore shorter RSA keys


@dataclass
class FoundKey:
    domain: str  # A-label
    selector: str
    algorithm: str = ""
    bits: int = 0
    private_export: bytes = field(default=b"", repr=False)
    public_key: str = ""
    path: str = ""
    where: str = ""
    error: str = ""
    # Rspamd cannot read this key (an Ed25519 PEM): it does not sign with it today.
    unused_today: bool = False
    short: bool = False  # RSA below 2048 bits


@dataclass
class Signing:
    keys: list[FoundKey]
    problems: list[Problem]  # errors: the configuration cannot be read as a whole
    changes: list[Problem]  # settings the panel does not keep, and what that changes
    notes: list[Problem]


# Rspamd's settings that change which mail is signed, as the panel sets them (export.render).
PANEL_SETTINGS = {
    "allow_username_mismatch": (
        "false",
        "mail a user sends as another domain's address was signed with that domain's key",
    ),
    "allow_hdrfrom_mismatch": ("false", "mail whose From: domain differs from the envelope sender's was signed"),
    "sign_authenticated": ("true", "mail submitted by signed-in users was NOT signed; it will be"),
    "use_domain": ("header", "the key was chosen by another domain than the From: header's"),
}


def read_signing(source: Source, path: str, domains: list[str]) -> Signing:
    signing = Signing([], [], [], [])
    try:
        config = ucl(source.read(path), path)
    except Missing:
        signing.notes.append(
            Problem(Where(path), "there is no DKIM signing configuration: no domain signs its mail today")
        )
        return signing
    except UclError as e:
        signing.problems.append(Problem(e.where, f"cannot read the DKIM configuration: {e}"))
        return signing
    if config.string("use_redis", "false").lower() == "true":
        signing.problems.append(
            Problem(Where(path), "the keys are kept in Redis (use_redis = true): adopt reads key files only")
        )
        return signing
    if config.string("enabled", "true").lower() == "false":
        signing.notes.append(
            Problem(Where(path), "DKIM signing is switched off (enabled = false): no domain signs today")
        )
        return signing
    for name, (wanted, change) in PANEL_SETTINGS.items():
        value = config.string(name, "").lower()
        if value and value != wanted:
            signing.changes.append(
                Problem(config.get(name).where, f"{name} = {value}: {change}; the panel sets {wanted}")
            )
    blocks = _domain_blocks(config, signing, path)
    fallback = config.string("try_fallback", "true").lower() != "false"
    template = config.string("path")
    selectors = _map(source, config, "selector_map", signing)
    paths = _map(source, config, "path_map", signing)
    default_selector = config.string("selector", "dkim")
    for domain in domains:
        if domain in blocks:
            wanted = blocks.pop(domain)
        elif fallback and (template or domain in paths):
            selector = selectors.get(domain, default_selector)
            file = paths.get(domain, template).replace("$domain", domain).replace("$selector", selector)
            if not source.exists(file):
                continue  # Rspamd finds no key: this domain is not signed today
            wanted = [(selector, file, str(config.get("path").where if config.get("path") else path))]
        else:
            continue
        for selector, file, where in wanted:
            signing.keys.append(_read_key(source, domain, selector, file, where))
    for domain in blocks:
        signing.changes.append(
            Problem(
                Where(path),
                f"mail from {domain} was signed, but {domain} is not a domain received here: its keys are not adopted",
            )
        )
    return signing


def _domain_blocks(config: Value, signing: Signing, path: str) -> dict[str, list[tuple[str, str, str]]]:
    """domain A-label -> [(selector, key path, where)] from the `domain { … }` blocks."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    block = config.get("domain")
    for name, value in (block.pairs or []) if block else []:
        try:
            domain = normalize_domain(name)
        except ValidationError as e:
            signing.problems.append(Problem(value.where, f"the DKIM block “{name}”: {e.messages[0]}"))
            continue
        entries = value.get("selectors").items if value.get("selectors") and value.get("selectors").items else [value]
        for entry in entries:
            selector = entry.string("selector", config.string("selector", "dkim"))
            file = entry.string("path", config.string("path"))
            if not file:
                signing.problems.append(Problem(entry.where, f"the DKIM key of {domain} ({selector}) names no path"))
                continue
            file = file.replace("$domain", domain).replace("$selector", selector)
            found.setdefault(domain, []).append((selector, file, str(entry.where)))
    return found


def _map(source: Source, config: Value, key: str, signing: Signing) -> dict[str, str]:
    """selector_map / path_map: a file of `domain value` lines."""
    name = config.string(key)
    if not name:
        return {}
    try:
        table, problems = table_file(source.read(name), name)
    except Missing as e:
        signing.problems.append(Problem(config.get(key).where, f"{key}: {e}"))
        return {}
    signing.problems += problems
    return {entry.key.lower(): entry.value.strip() for entry in table.entries}


def _read_key(source: Source, domain: str, selector: str, path: str, where: str) -> FoundKey:
    key = FoundKey(domain, selector.lower(), path=path, where=where)
    if not dkim.SELECTOR.fullmatch(key.selector):
        key.error = f"the selector “{selector}” is not a DNS label (letters, digits and inner hyphens)"
        return key
    try:
        data = source.read(path)
    except Missing as e:
        key.error = f"its key file cannot be read: {e}"
        return key
    try:
        private = _load(data)
    except ValueError as e:
        key.error = f"its key file {path} {e}"
        return key
    if isinstance(private, rsa.RSAPrivateKey):
        key.algorithm, key.bits = dkim.RSA, private.key_size
        if key.bits < MIN_BITS:
            key.error = f"is an RSA key of {key.bits} bits: receivers ignore signatures below {MIN_BITS} (RFC 8301)"
            return key
        key.short = key.bits < dkim.MIN_RSA_BITS
        key.private_export = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        spki = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        key.public_key = base64.b64encode(spki).decode()
    else:
        key.algorithm, key.bits = dkim.ED25519, 256
        key.unused_today = data.lstrip().startswith(b"-----BEGIN")
        seed = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        key.private_export = base64.b64encode(seed) + b"\n"
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        key.public_key = base64.b64encode(raw).decode()
    return key


def _load(data: bytes) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except TypeError:
            raise ValueError("is encrypted with a passphrase, which Rspamd cannot read either") from None
        except ValueError as e:
            raise ValueError(f"is not a PEM private key Rspamd reads ({e})") from None
        if not isinstance(private, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            raise ValueError(f"holds a {type(private).__name__.removeprefix('_')}, neither RSA nor Ed25519")
        return private
    try:
        raw = base64.b64decode(b"".join(data.split()), validate=True)
    except binascii.Error:
        raise ValueError("is neither PEM nor a base64 Ed25519 key") from None
    if len(raw) not in (32, 64):
        raise ValueError(
            f"holds {len(raw)} bytes of base64: an Ed25519 key has 32 (the seed) or 64 (seed and public key)"
        )
    private = ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32])
    if len(raw) == 64:
        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if public != raw[32:]:
            raise ValueError("holds an Ed25519 seed and a public key that do not belong together")
    return private
