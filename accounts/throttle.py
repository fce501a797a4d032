"""Failed-login throttling per account and per client address, kept in the database.

The database (not the per-process cache) holds the counts so that every worker process sees
the same numbers and a restart does not reset them.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import LoginFailure


def keys_for(identifier: str, client_address: str) -> dict[str, int]:
    """The throttle keys of one attempt, each with the failures it may have in one window."""
    return {
        f"account:{identifier.strip().lower()}": settings.LOGIN_FAILURES_PER_ACCOUNT,
        f"client:{client_address}": settings.LOGIN_FAILURES_PER_CLIENT,
    }


def seconds_locked(keys: dict[str, int]) -> int:
    """How long until an attempt with these keys is allowed again (0: allowed now)."""
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    now = timezone.now()
    waits = [
        (failure.window_started_at + window - now).total_seconds()
        for failure in LoginFailure.objects.filter(key__in=keys, window_started_at__gt=now - window)
        if failure.count >= keys[failure.key]
    ]
    return max([0, *(int(w) + 1 for w in waits)])


@transaction.atomic
def record_failure(keys: dict[str, int]) -> None:
    now = timezone.now()
    window_start = now - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    # Counts from windows that have passed mean nothing any more; without this, every guessed
    # name would leave a row behind for good.
    LoginFailure.objects.filter(window_started_at__lte=window_start).delete()
    for key in keys:
        failure, created = LoginFailure.objects.get_or_create(key=key, defaults={"count": 1, "window_started_at": now})
        if created:
            continue
        if failure.window_started_at <= window_start:
            LoginFailure.objects.filter(pk=failure.pk).update(count=1, window_started_at=now)
        else:
            LoginFailure.objects.filter(pk=failure.pk).update(count=F("count") + 1)


def forget_account(identifier: str) -> None:
    LoginFailure.objects.filter(key=f"account:{identifier.strip().lower()}").delete()
