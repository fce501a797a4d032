"""Passkeys (WebAuthn), made and checked by py_webauthn.

The relying party is the host name the request came to, so a passkey made at
https://mail.example.org works there only; Django has already refused a host outside
ALLOWED_HOSTS. The expected origin is the request's own scheme and host (behind the TLS proxy,
SECURE_PROXY_SSL_HEADER makes the scheme https). Browsers take a host name, not an IP address,
as a relying party, and passkeys need HTTPS (or http://localhost).

A challenge is kept in the session for one ceremony and taken out when it is checked, so an
answer cannot be played twice; it expires after CHALLENGE_SECONDS.
"""

import json
import logging
import time
from dataclasses import dataclass

from django.http import HttpRequest
from django.http.request import split_domain_port
from django.utils import timezone
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    options_to_json_dict,
    parse_authentication_credential_json,
)
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from factors.models import Enrolment, Passkey
from factors.people import Person

log = logging.getLogger(__name__)

CHALLENGE = "factors_webauthn_challenge"
CHALLENGE_SECONDS = 300
REGISTER, SECOND_STEP, PASSWORDLESS = "register", "second step", "passwordless"
# What a hostile or broken answer can make the library or its parsers raise: each is a refusal.
_BROKEN = (WebAuthnException, ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)
_TRANSPORTS = {t.value for t in AuthenticatorTransport}


class PasskeyRefused(Exception):
    """The answer is not a valid passkey for this ceremony; the message is for the person."""


@dataclass(frozen=True)
class NewPasskey:
    credential_id: str
    public_key: bytes
    sign_count: int
    transports: list[str]


def relying_party(request: HttpRequest) -> tuple[str, str]:
    """(RP ID, expected origin) of this request."""
    host = request.get_host()
    return split_domain_port(host)[0], f"{request.scheme}://{host}"


def _remember(request: HttpRequest, purpose: str, challenge: bytes) -> None:
    request.session[CHALLENGE] = {"purpose": purpose, "challenge": bytes_to_base64url(challenge), "at": time.time()}


def _take_challenge(request: HttpRequest, purpose: str) -> bytes:
    kept = request.session.pop(CHALLENGE, None)
    if not isinstance(kept, dict) or kept.get("purpose") != purpose:
        raise PasskeyRefused("This page asked for no passkey. Try again.")
    if time.time() - kept["at"] > CHALLENGE_SECONDS:
        raise PasskeyRefused("The passkey request expired. Try again.")
    return base64url_to_bytes(kept["challenge"])


def _descriptors(passkeys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(p.credential_id), transports=[AuthenticatorTransport(t) for t in p.transports]
        )
        for p in passkeys
    ]


def registration_options(request: HttpRequest, person: Person, enrolment: Enrolment) -> dict:
    rp_id, _ = relying_party(request)
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=f"mailadmin at {rp_id}",
        user_name=person.sign_in_name,
        user_id=base64url_to_bytes(enrolment.user_handle),
        user_display_name=person.shown_name,
        # Discoverable, so that a passkey can also sign in without a name and password.
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.PREFERRED
        ),
        exclude_credentials=_descriptors(list(enrolment.passkeys.all())),
    )
    _remember(request, REGISTER, options.challenge)
    return options_to_json_dict(options)


def verify_registration(request: HttpRequest, credential: str) -> NewPasskey:
    challenge = _take_challenge(request, REGISTER)
    rp_id, origin = relying_party(request)
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp_id, expected_origin=origin
        )
        transports = json.loads(credential)["response"].get("transports") or []
    except _BROKEN as e:
        log.info("passkey registration refused: %s", e)
        raise PasskeyRefused("The browser's answer is not a valid passkey for this page. Try again.") from None
    if not isinstance(transports, list):
        transports = []
    return NewPasskey(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=sorted({t for t in transports if isinstance(t, str) and t in _TRANSPORTS}),
    )


def authentication_options(request: HttpRequest, purpose: str, passkeys: list[Passkey]) -> dict:
    """Options for navigator.credentials.get: the person's passkeys for a second step, or any
    discoverable passkey (an empty list), with the user verified, for a passwordless sign-in."""
    rp_id, _ = relying_party(request)
    verification = (
        UserVerificationRequirement.REQUIRED if purpose == PASSWORDLESS else UserVerificationRequirement.PREFERRED
    )
    options = generate_authentication_options(
        rp_id=rp_id, allow_credentials=_descriptors(passkeys), user_verification=verification
    )
    _remember(request, purpose, options.challenge)
    return options_to_json_dict(options)


def credential_id_of(credential: str) -> str | None:
    """The credential id an answer names, before anything is checked."""
    try:
        value = json.loads(credential)
    except ValueError:
        return None
    identifier = value.get("id") if isinstance(value, dict) else None
    return identifier if isinstance(identifier, str) and 0 < len(identifier) <= 1400 else None


def verify_assertion(request: HttpRequest, purpose: str, credential: str, passkey: Passkey) -> None:
    """Check that `credential` is `passkey`'s signature over this session's challenge; raise
    PasskeyRefused if not. A passwordless sign-in also needs the user verified (PIN, biometrics),
    since the passkey is then both factors."""
    challenge = _take_challenge(request, purpose)
    rp_id, origin = relying_party(request)
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=purpose == PASSWORDLESS,
        )
        # Not signed, but it must name the passkey's own account when it names one (WebAuthn §7.2).
        handle = parse_authentication_credential_json(credential).response.user_handle
        if handle is not None and bytes_to_base64url(handle) != passkey.enrolment.user_handle:
            raise InvalidAuthenticationResponse("the user handle is not the passkey's account's")
    except _BROKEN as e:
        log.info("passkey %s refused: %s", passkey.pk, e)
        raise PasskeyRefused("That passkey could not be checked. Try again.") from None
    used = Passkey.objects.filter(pk=passkey.pk)
    if verified.new_sign_count:
        # Two answers with one count: a replay, or a cloned authenticator; only one may pass.
        used = used.filter(sign_count__lt=verified.new_sign_count)
    if not used.update(sign_count=verified.new_sign_count, last_used_at=timezone.now()):
        raise PasskeyRefused("That passkey could not be checked. Try again.")
