"""Mailbox users' sign-in: checked against the mailbox's own hash, kept in the session.

Mailbox users are not Django users (a host may have 100,000 of them). The session stores the
mailbox id and a digest of its password hash; when the password changes, every other session
of that mailbox stops being valid, as Django does for its own users.
"""

import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.middleware.csrf import rotate_token

from accounts import mailpasswords
from accounts.models import Mailbox
from core.addresses import normalize_domain

SESSION_MAILBOX_ID = "mailbox_id"
SESSION_MAILBOX_HASH = "mailbox_hash"


def _session_hash(mailbox: Mailbox) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), mailbox.password_hash.encode(), hashlib.sha256).hexdigest()


def canonical_address(address: str) -> str | None:
    """The address a mailbox is looked up by, or None if it cannot be one: local part lowercased
    as stored, domain as its A-label (`Alice@Ｅxample。org.` is `alice@example.org`).

    Sign-in and the throttle both use it, so every spelling that signs in to a mailbox is counted
    against that one mailbox.
    """
    local, _, domain = address.strip().lower().rpartition("@")
    if not local or "\0" in local:  # no stored local part has one, and PostgreSQL refuses to compare it
        return None
    try:
        return f"{local}@{normalize_domain(domain)}"
    except ValidationError:
        return None


def find_mailbox(address: str) -> Mailbox | None:
    canonical = canonical_address(address)
    if canonical is None:
        return None
    local, _, domain = canonical.rpartition("@")
    return Mailbox.objects.select_related("domain").filter(local_part=local, domain__name=domain).first()


def authenticate_mailbox(address: str, password: str) -> Mailbox | None:
    """The mailbox if the address and mail password match an active mailbox of an active domain."""
    mailbox = find_mailbox(address)
    stored = mailbox.password_hash if mailbox else mailpasswords.DUMMY_HASH
    if not mailpasswords.check_hash(password, stored) or mailbox is None:
        return None
    if not (mailbox.active and mailbox.domain.active):
        return None
    return mailbox


def login_mailbox(request: HttpRequest, mailbox: Mailbox) -> None:
    request.session.flush()
    request.session[SESSION_MAILBOX_ID] = mailbox.pk
    request.session[SESSION_MAILBOX_HASH] = _session_hash(mailbox)
    rotate_token(request)
    request.mailbox = mailbox


def update_session_hash(request: HttpRequest, mailbox: Mailbox) -> None:
    """Keep the current session signed in after its own password change."""
    request.session.cycle_key()
    request.session[SESSION_MAILBOX_HASH] = _session_hash(mailbox)


def mailbox_from_session(request: HttpRequest) -> Mailbox | None:
    mailbox_id = request.session.get(SESSION_MAILBOX_ID)
    if mailbox_id is None:
        return None
    mailbox = Mailbox.objects.select_related("domain").filter(pk=mailbox_id).first()
    valid = (
        mailbox is not None
        and mailbox.active
        and mailbox.domain.active
        and hmac.compare_digest(request.session.get(SESSION_MAILBOX_HASH, ""), _session_hash(mailbox))
    )
    if not valid:
        request.session.flush()
        return None
    return mailbox
