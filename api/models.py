from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from domains.models import Domain


class ApiTokenQuerySet(models.QuerySet):
    def usable(self) -> "ApiTokenQuerySet":
        """Tokens that still open the API: not expired, and their owner not disabled."""
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()), owner__is_active=True)


class ApiToken(models.Model):
    """An admin's key to the REST API, made in the panel and shown once.

    Only a SHA-256 digest of the token is kept: a token is 256 random bits, so there is nothing
    to guess from a leaked digest, and a fast hash costs every request nothing (a password hash
    would cost each request ~100 ms). What it may do is worked out afresh at every request
    (api.auth): its owner's rights now, narrowed to its own scope.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=40)
    # The token's first characters, shown so its owner can tell which token a script holds.
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    writes = models.BooleanField("read-write", default=False)
    # All of the owner's domains, or only those in `domains` (and their alias domains).
    all_domains = models.BooleanField(default=True)
    domains = models.ManyToManyField(Domain, blank=True, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The throttle's fixed window (api.auth.TokenThrottle): when it began, and requests in it.
    window_started_at = models.DateTimeField(null=True, blank=True)
    window_requests = models.PositiveIntegerField(default=0)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="api_token_unique_name")]

    def __str__(self) -> str:
        return f"API token {self.name!r} of {self.owner_id}"

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
