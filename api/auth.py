"""Who an API request is, and what it may do: decided afresh at every request.

A request carries `Authorization: Bearer mat_…`. The token's row is looked up by the SHA-256 of
the text (api.models.ApiToken says why a fast hash). The request then acts as a `TokenHolder`:
the token's owner as the access helpers read an admin (`is_superuser`, `domains`), narrowed to
the token's scope. So `domains.access.domain_for`, `accounts.access.mailbox_for` and
`AuditEntry.objects.visible_to` answer for a token exactly as for its owner's pages, never more:
a domain the owner lost, or one outside the token's chosen domains, is a 404 like any domain not
theirs; a superadmin's token for some domains is a domain admin of those.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from accounts.models import User
from api.models import ApiToken
from audit.log import Actor, api_actor
from domains.models import Domain

PREFIX = "mat_"  # "mailadmin token": recognisable in a leaked file or a secret scanner's rules
SHOWN = 8  # characters of the token shown in the panel to tell tokens apart


def new_token_text() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class TokenHolder:
    """The token's owner as the access helpers see an admin, narrowed to the token's scope."""

    token: ApiToken

    is_authenticated = True
    is_anonymous = False

    @property
    def owner(self) -> User:
        return self.token.owner

    @property
    def pk(self) -> int:
        return self.token.owner_id

    @property
    def username(self) -> str:
        return self.owner.username

    @property
    def is_superuser(self) -> bool:
        """Host-wide rights need a superadmin's token for all domains."""
        return self.owner.is_superuser and self.token.all_domains

    @property
    def is_active(self) -> bool:
        return self.owner.is_active

    @property
    def domains(self) -> QuerySet[Domain]:
        """The domains this token manages as a domain admin (managed_by adds their alias domains)."""
        if self.owner.is_superuser:
            return Domain.objects.filter(pk__in=self.token.domains.values("pk"))
        mine = self.owner.domains.all()
        return mine if self.token.all_domains else mine.filter(pk__in=self.token.domains.values("pk"))

    @property
    def actor(self) -> Actor:
        return api_actor(self.owner, self.token.name)


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[TokenHolder, ApiToken] | None:
        scheme, _, text = authentication.get_authorization_header(request).decode("latin-1").partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None  # no token: DRF answers 401 with WWW-Authenticate
        text = text.strip()
        token = ApiToken.objects.select_related("owner").filter(digest=digest(text)).first() if text else None
        if token is None:
            raise exceptions.AuthenticationFailed("This token is not valid: it may have been revoked.")
        if token.expired:
            raise exceptions.AuthenticationFailed("This token has expired.")
        if not token.owner.is_active:
            raise exceptions.AuthenticationFailed("This token's admin is disabled.")
        return TokenHolder(token), token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="mailadmin API"'


def holder(request: Request) -> TokenHolder:
    return request.user


class TokenRights(permissions.BasePermission):
    """A token of a signed-in admin; a read-only one reads only."""

    message = "This token is read-only."

    def has_permission(self, request: Request, view) -> bool:
        if not isinstance(request.user, TokenHolder):
            return False
        return request.method in permissions.SAFE_METHODS or request.auth.writes


def require_superadmin(request: Request) -> None:
    """403 for what only a superadmin's pages offer (domains, applying), as core.access says."""
    if holder(request).is_superuser:
        return
    if holder(request).owner.is_superuser:
        raise exceptions.PermissionDenied("Only a superadmin's token for all domains can do this.")
    raise exceptions.PermissionDenied("Only superadmins can do this.")


@cache
def _count_request_sql() -> str:
    """TokenThrottle's one UPDATE, written once: the ORM's Case/When took longer to compile on
    every request than the database took to run it (API create then cost more than the form)."""
    qn = connection.ops.quote_name
    table, pk = qn(ApiToken._meta.db_table), qn(ApiToken._meta.pk.column)
    count, started, used = (
        qn(ApiToken._meta.get_field(name).column) for name in ("window_requests", "window_started_at", "last_used_at")
    )
    fresh = f"({started} IS NULL OR {started} <= %s)"
    return (
        f"UPDATE {table} SET {count} = CASE WHEN {fresh} THEN 1 ELSE {count} + 1 END,"
        f" {started} = CASE WHEN {fresh} THEN %s ELSE {started} END, {used} = %s"
        f" WHERE {pk} = %s AND ({fresh} OR {count} < %s)"
    )


def _count_request_params(pk: int, now, window: timedelta) -> list:
    field = ApiToken._meta.get_field("window_started_at")
    at, cutoff = field.get_db_prep_value(now, connection), field.get_db_prep_value(now - window, connection)
    return [cutoff, cutoff, at, at, pk, cutoff, settings.API_REQUESTS_PER_MINUTE]


class TokenThrottle(throttling.BaseThrottle):
    """At most API_REQUESTS_PER_MINUTE per token, counted in the token's row.

    In the database rather than Django's cache: the panel has no shared cache, and a cache per
    gunicorn worker would let each worker allow the whole rate. One UPDATE per request counts
    the request, starts a new window when the last one is over, refuses when the window is
    full (0 rows changed), and notes when the token was last used. A fixed window: a client may
    send up to twice the rate across a window's edge, which is no harm here.
    """

    WINDOW = timedelta(minutes=1)

    def allow_request(self, request: Request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True  # not signed in: refused anyway, and nothing to count against
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(_count_request_sql(), _count_request_params(token.pk, now, self.WINDOW))
            counted = cursor.rowcount
        self.retry_after = None
        if not counted:
            started = ApiToken.objects.filter(pk=token.pk).values_list("window_started_at", flat=True).first()
            if started:
                self.retry_after = max(1, round((started + self.WINDOW - now).total_seconds()))
        return bool(counted)

    def wait(self) -> float | None:
        return self.retry_after
