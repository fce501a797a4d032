"""Secrets the database keeps only encrypted: DKIM private keys, adopted archives, and the keys
of authenticator apps. Fernet (AES-CBC with an HMAC) under DKIM_ENCRYPTION_KEY, which lives
outside the database (a file in production), so a copy of the database alone, or a backup
taken without that file, gives none of them away."""

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _fernet() -> Fernet:
    try:
        return Fernet(settings.DKIM_ENCRYPTION_KEY)
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "DKIM_ENCRYPTION_KEY must be a Fernet key: 32 random bytes, url-safe base64 encoded "
            "(python3 -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
        ) from None


def seal(secret: bytes) -> str:
    return _fernet().encrypt(secret).decode("ascii")


def unseal(token: str, what: str) -> bytes:
    """The secret `seal` made; `what` names it in the error when the key is not the one it was
    sealed with."""
    try:
        return _fernet().decrypt(token.encode("ascii"))
    except InvalidToken:
        raise ImproperlyConfigured(
            f"{what} cannot be decrypted: DKIM_ENCRYPTION_KEY is not the key it was stored with"
        ) from None
