"""Failed-password throttling per account and per client, kept in the database.

The database (not the per-process cache) holds the counts so that every worker process sees
the same numbers and a restart does not reset them. The same counts guard signing in and the
current password on the account page.

The rule, per window of LOGIN_FAILURE_WINDOW_SECONDS:

- Per account: every failure counts against the canonical account the typed name denotes, however
  it was spelled (see `account_key`), whether or not that account exists; at
  LOGIN_FAILURES_PER_ACCOUNT every attempt on it is refused, the right password included. Counting
  names that match nothing the same way keeps the lock from telling which names exist.
- Per client: only failures against an existing account count; at LOGIN_FAILURES_PER_CLIENT every
  attempt from that client is refused, the right password included. This is what stops one
  address trying a common password on every mailbox (whose addresses are public), so a client
  over its limit cannot sign in even to an account whose own count is clear. Names that match no
  account never count here: they can never succeed, and counting them would let anyone who
  shares an address with an admin (a NAT, a proxy we do not trust) lock that admin out by typing
  made-up names.
- The client is the peer, or the address a trusted proxy names (see `client_address`); an IPv6
  client is its /64, which one host usually holds whole.
"""

import hashlib
import ipaddress
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from accounts import sessions
from accounts.models import LoginFailure, User

_KEY_MAX = LoginFailure._meta.get_field("key").max_length


@dataclass(frozen=True)
class Attempt:
    """The throttle keys of one attempt: its canonical account and its client."""

    account: str
    client: str


def attempt(identifier: str, client_address: str) -> Attempt:
    return Attempt(account=_bounded(f"account:{account_key(identifier)}"), client=_bounded(client_key(client_address)))


def account_key(identifier: str) -> str:
    """One name per account, whatever spelling was typed, with no database query.

    An address becomes the form a mailbox is looked up by (local part lowercased, domain as its
    A-label, so `Alice@Ｅxample。org.` is `alice@example.org`); an admin name and anything that is
    not a valid address are compared NFKC-casefolded (`ＲＯＯＴ` is `root`). Folding more than
    sign-in does is harmless: it only lets more spellings share one count.
    """
    identifier = identifier.strip()
    if "@" in identifier:
        identifier = sessions.canonical_address(identifier) or identifier
    return unicodedata.normalize("NFKC", identifier).casefold()


def account_exists(identifier: str) -> bool:
    if "@" in identifier:
        return sessions.find_mailbox(identifier) is not None
    return User.objects.filter(username__iexact=identifier.strip()).exists()


def client_key(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"client:{address}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return f"client:{ip.ipv4_mapped}"
        return f"client:{ipaddress.IPv6Network((int(ip) >> 64 << 64, 64))}"
    return f"client:{ip}"


def _bounded(key: str) -> str:
    # A key longer than the column (an address whose domain grew as an A-label) is stored as its
    # digest: PostgreSQL would refuse it, and the count must still be one per key.
    if len(key) <= _KEY_MAX:
        return key
    kind = key.partition(":")[0]
    return f"{kind}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def _trusted_proxies() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(proxy, strict=False) for proxy in settings.TRUSTED_PROXIES]
    except ValueError as e:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {e}") from None


def client_address(remote_addr: str, forwarded_for: str) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy.

    Behind trusted proxies, X-Forwarded-For is read from the right, where each proxy appended
    the address that connected to it; the first address that is not a trusted proxy is the
    client. Everything left of it was written by the client and is ignored. An entry that is not
    a bare address stops the walk at the last proxy seen: nothing past it can be believed.

    >>> client_address("127.0.0.1", "forged, 203.0.113.1")  # with TRUSTED_PROXIES = ["127.0.0.1"]
    '203.0.113.1'
    """
    trusted = _trusted_proxies()

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    if not is_trusted(remote_addr):
        return remote_addr
    client = str(ipaddress.ip_address(remote_addr))
    for entry in reversed(forwarded_for.split(",")):
        try:
            address = str(ipaddress.ip_address(entry.strip()))
        except ValueError:
            return client
        client = address
        if not is_trusted(client):
            return client
    return client


def request_client(request: HttpRequest) -> str:
    """The client of a request, as `client_address` decides it."""
    return client_address(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", ""))


def seconds_locked(attempt: Attempt) -> int:
    """How long until this attempt is allowed again (0: allowed now)."""
    limits = {attempt.account: settings.LOGIN_FAILURES_PER_ACCOUNT, attempt.client: settings.LOGIN_FAILURES_PER_CLIENT}
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    now = timezone.now()
    waits = [
        (failure.window_started_at + window - now).total_seconds()
        for failure in LoginFailure.objects.filter(key__in=limits, window_started_at__gt=now - window)
        if failure.count >= limits[failure.key]
    ]
    return max([0, *(int(w) + 1 for w in waits)])


def locked_message(seconds: int) -> str:
    return f"Too many failed sign-ins. Try again in {(seconds + 59) // 60} minutes."


@transaction.atomic
def record_failure(attempt: Attempt, *, account_exists: bool) -> None:
    now = timezone.now()
    window_start = now - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    # Counts from windows that have passed mean nothing any more; without this, every guessed
    # name would leave a row behind for good.
    LoginFailure.objects.filter(window_started_at__lte=window_start).delete()
    for key in [attempt.account, attempt.client] if account_exists else [attempt.account]:
        failure, created = LoginFailure.objects.get_or_create(key=key, defaults={"count": 1, "window_started_at": now})
        if created:
            continue
        if failure.window_started_at <= window_start:
            LoginFailure.objects.filter(pk=failure.pk).update(count=1, window_started_at=now)
        else:
            LoginFailure.objects.filter(pk=failure.pk).update(count=F("count") + 1)


def forget_account(attempt: Attempt) -> None:
    LoginFailure.objects.filter(key=attempt.account).delete()
