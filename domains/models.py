from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.utils import timezone

from core.addresses import display_domain
from core.search import prefix_filter
from domains import dkim


class DomainQuerySet(models.QuerySet):
    def managed_by(self, user) -> "DomainQuerySet":
        """Everything for a superadmin; for a domain admin, their domains and the alias domains
        that deliver as them (subqueries, not joins, so no row comes twice)."""
        if user.is_superuser:
            return self
        mine = user.domains.values("pk")
        return self.filter(models.Q(pk__in=mine) | models.Q(alias_of__in=mine))

    def receiving(self) -> "DomainQuerySet":
        """Domains this host takes mail for: active, and for an alias domain, its target active too."""
        return self.filter(active=True).exclude(alias_of__active=False)

    def search(self, query: str) -> "DomainQuerySet":
        """Prefix search on the stored A-label (see prefix_filter)."""
        return prefix_filter(self, "name", query.strip().lower())

    def with_address_counts(self) -> "DomainQuerySet":
        """alias_count beside the mailbox_count every domain keeps, as a correlated subquery. The
        rows are reached through the reverse relation, so this app does not import the accounts
        app that sits above it."""
        return self.annotate(alias_count=_count_related(self.model, "aliases"))


def _count_related(model: type[models.Model], relation: str) -> Subquery:
    related = model._meta.get_field(relation).related_model
    rows = related.objects.filter(domain=OuterRef("pk")).order_by().values("domain")
    return Subquery(rows.annotate(n=Count("pk")).values("n"), output_field=IntegerField())


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
    # Kept by accounts.actions as mailboxes come and go, so the domain page need not count
    # 100,000 rows to number its pages (tests/test_mailbox_counts.py holds it to the rows).
    mailbox_count = models.PositiveIntegerField(default=0, editable=False)
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
    ones stay published for a grace period after rotation, removed ones must be gone from DNS
    (the live check proves it) before the row is forgotten. The private key is wiped on removal."""

    PENDING, ACTIVE, RETIRED, REMOVED = "pending", "active", "retired", "removed"
    STATES = [(PENDING, "pending"), (ACTIVE, "active"), (RETIRED, "retired"), (REMOVED, "removed")]
    # A retired key stays published this long, so mail signed before the switch still verifies.
    GRACE_DAYS = 7
    # An active key older than this is due for rotation.
    ROTATE_AFTER = timedelta(days=365)

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
    # When a live DNS check first saw this key's record as published: signing with it waits for that.
    published_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["domain", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["domain", "selector"], name="dkim_unique_selector")]

    def __str__(self) -> str:
        return f"{self.record_name} ({self.algorithm}, {self.state})"

    @property
    def due_for_rotation(self) -> bool:
        return self.state == self.ACTIVE and (self.activated_at or self.created_at) < timezone.now() - self.ROTATE_AFTER

    @property
    def past_grace_period(self) -> bool:
        """A retired key whose grace period is over: it can be removed from DNS now."""
        return self.state == self.RETIRED and self.retired_at < timezone.now() - timedelta(days=self.GRACE_DAYS)

    @property
    def record_name(self) -> str:
        return dkim.record_name(self.selector, self.domain.name)


class DomainPolicy(models.Model):
    """What the domain publishes in DNS besides its keys: SPF, DMARC, MTA-STS, TLSRPT.

    The defaults follow the guide, so a new domain is complete without editing anything.
    An empty report address means postmaster@ the domain itself.
    """

    MTA_STS_MODES = [("enforce", "enforce"), ("testing", "testing"), ("none", "none")]
    DMARC_POLICIES = [("reject", "reject"), ("quarantine", "quarantine"), ("none", "none")]
    ALIGNMENT = [("s", "strict"), ("r", "relaxed")]

    domain = models.OneToOneField(Domain, on_delete=models.CASCADE, related_name="policy")
    parked = models.BooleanField(
        default=False, help_text="The domain sends and receives no mail: publish null MX, SPF -all and DMARC reject."
    )
    mx_hosts = models.TextField(
        blank=True, help_text="One per line, “preference host”, e.g. “10 mail.example.org”. Empty: the mail host."
    )
    spf_mechanisms = models.CharField(
        max_length=400, default="mx", help_text="Mechanisms before the final “all”, e.g. “mx ip4:192.0.2.1”."
    )
    spf_all = models.CharField(
        max_length=5, default="-all", choices=[("-all", "-all (fail)"), ("~all", "~all (soft fail)")]
    )
    dmarc_p = models.CharField("DMARC policy", max_length=10, choices=DMARC_POLICIES, default="reject")
    dmarc_sp = models.CharField("subdomain policy", max_length=10, choices=DMARC_POLICIES, default="reject")
    dmarc_pct = models.PositiveSmallIntegerField("percentage", default=100)
    dmarc_aspf = models.CharField("SPF alignment", max_length=1, choices=ALIGNMENT, default="s")
    dmarc_adkim = models.CharField("DKIM alignment", max_length=1, choices=ALIGNMENT, default="s")
    dmarc_fo = models.CharField("failure reports (fo)", max_length=7, default="1")
    dmarc_rua = models.CharField("aggregate reports to", max_length=320, blank=True)
    dmarc_ruf = models.CharField("failure reports to", max_length=320, blank=True)
    mta_sts_mode = models.CharField("MTA-STS mode", max_length=8, choices=MTA_STS_MODES, default="testing")
    mta_sts_max_age = models.PositiveIntegerField(
        "MTA-STS max_age", default=86400, help_text="Seconds. Start with a day; weeks once it works."
    )
    tlsrpt_rua = models.CharField("TLS reports to", max_length=320, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"policy of {self.domain.name}"
