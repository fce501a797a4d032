from django.conf import settings
from django.db import models

from mailadmin.addresses import display_domain
from mailadmin.search import prefix_filter


class DomainQuerySet(models.QuerySet):
    def managed_by(self, user) -> "DomainQuerySet":
        if user.is_superuser:
            return self
        return self.filter(admins=user)

    def search(self, query: str) -> "DomainQuerySet":
        """Prefix search on the stored A-label (see prefix_filter)."""
        return prefix_filter(self, "name", query.strip().lower())


class Domain(models.Model):
    # Stored as the lowercase IDNA A-label; shown to people as the U-label (`display_name`).
    name = models.CharField(max_length=253, unique=True)
    active = models.BooleanField(default=True)
    default_quota_mb = models.PositiveIntegerField(
        "default quota", default=0, help_text="For new mailboxes. 0 means unlimited."
    )
    # An alias domain has no mailboxes of its own: mail to x@this is delivered as x@alias_of.
    alias_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="alias_domains",
        verbose_name="deliver as",
    )
    admins = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="domains")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DomainQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return display_domain(self.name)

    @property
    def is_alias_domain(self) -> bool:
        return self.alias_of_id is not None


class DkimKey(models.Model):
    """A DKIM key of a domain. Only active keys sign; pending ones are published first, retired
    ones stay published for a grace period after rotation."""

    PENDING, ACTIVE, RETIRED = "pending", "active", "retired"
    STATES = [(PENDING, "pending"), (ACTIVE, "active"), (RETIRED, "retired")]

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="dkim_keys")
    selector = models.CharField(max_length=63)
    algorithm = models.CharField(max_length=10, choices=[("rsa", "RSA"), ("ed25519", "Ed25519")], default="rsa")
    bits = models.PositiveIntegerField(default=2048)
    # Fernet token of the exported private key (domains.dkim); never shown in a page.
    private_key_encrypted = models.TextField()
    public_key = models.TextField(help_text="The p= value of the DNS record (base64).")
    state = models.CharField(max_length=10, choices=STATES, default=PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["domain", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["domain", "selector"], name="dkim_unique_selector")]

    def __str__(self) -> str:
        return f"{self.selector}._domainkey.{self.domain.name} ({self.algorithm}, {self.state})"
