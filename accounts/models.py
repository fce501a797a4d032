from django.contrib.auth.models import AbstractUser
from django.db import models

from core.search import prefix_filter
from domains.models import Domain


class User(AbstractUser):
    """A panel administrator: superadmin when is_superuser, else admin of the domains given to them.

    Mailbox users are not Users: they sign in with their mail password (see accounts.sessions).
    """


class MailboxQuerySet(models.QuerySet):
    def search(self, query: str) -> "MailboxQuerySet":
        return prefix_filter(self, "local_part", query.strip().lower().split("@")[0])

    def fullest_first(self, found: int, in_domain: int, page: int, page_size: int) -> "MailboxQuerySet":
        """One domain's mailboxes (as searched: `found` of its `in_domain`), the fullest first.

        Two ways answer it, and which is cheap depends on how many the search found. Reading
        the index mailbox_fullest_first in order and testing each entry against the search
        steps over about page × page_size × in_domain / found entries; sorting what the search
        found costs about `found` rows. SQLite has no statistics to choose between them (it
        walked all 100,000 entries, 9 ms, for a search that found one), so the choice is made
        here: ordering by an expression, which no index holds, leaves the search's own index.
        Measured at 100,000 mailboxes: about 0.08 µs per entry walked, 0.3 µs per row sorted."""
        walked = page * page_size * in_domain / max(found, 1)
        if walked <= 8 * found:
            return self.order_by("-fill_permille", "local_part")  # the index, in order
        return self.order_by((models.F("fill_permille") + 0).desc(), "local_part")


class MailboxOrderVersion(models.Model):
    """How many times a domain's mailbox lists have changed order (SQLite only). Triggers
    (accounts.ordertriggers) add one whenever one of its mailboxes is inserted or deleted or its
    local part or fill changes, whoever writes the row (the actions, the usage sync, a bulk
    load, raw SQL), so no code path can forget it. accounts.pages keys the anchors of deep pages
    by it. Only the triggers write here; no foreign key, so a domain's deletion never waits on
    this row."""

    domain = models.BigIntegerField(primary_key=True, db_column="domain_id")
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"domain {self.domain}: order version {self.version}"


class Mailbox(models.Model):
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="mailboxes")
    local_part = models.CharField(max_length=64)
    # yescrypt, the crypt(3) form both Dovecot and OpenSMTPD verify (accounts.mailpasswords).
    password_hash = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True)
    quota_mb = models.PositiveIntegerField("quota", default=0, help_text="0 means unlimited.")
    active = models.BooleanField(default=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # What Dovecot last reported (accounts.usage copies it here in the background, so the
    # domain page sorts by fill with an index): None until the mailbox has been measured.
    used_bytes = models.BigIntegerField(null=True, blank=True)
    used_messages = models.BigIntegerField(null=True, blank=True)
    # used / quota in thousandths (1000: full); 0 when unlimited, -1 while the usage is unknown.
    fill_permille = models.IntegerField(default=-1)
    last_login_at = models.DateTimeField("last IMAP login", null=True, blank=True)
    # IMAP and SMTP take only the mailbox's app passwords; the panel still takes its password.
    app_passwords_only = models.BooleanField(default=False)
    # Where its mail already was when the panel adopted a host built by hand that kept capitals
    # in its paths (adopt/): Dovecot keeps reading it there. Empty: VMAIL_HOME/<domain>/<local part>.
    home = models.CharField(max_length=255, blank=True, editable=False)

    objects = MailboxQuerySet.as_manager()

    class Meta:
        ordering = ["local_part"]
        verbose_name_plural = "mailboxes"
        constraints = [
            models.UniqueConstraint(fields=["domain", "local_part"], name="mailbox_unique_address"),
        ]
        indexes = [models.Index(fields=["domain", "-fill_permille", "local_part"], name="mailbox_fullest_first")]

    def __str__(self) -> str:
        return self.address

    @property
    def address(self) -> str:
        return f"{self.local_part}@{self.domain.display_name}"

    @property
    def ascii_address(self) -> str:
        return f"{self.local_part}@{self.domain.name}"


class AliasQuerySet(models.QuerySet):
    def search(self, query: str) -> "AliasQuerySet":
        return prefix_filter(self, "local_part", query.strip().lower().split("@")[0])


class Alias(models.Model):
    """Mail to local_part@domain goes to every destination; an empty local part is a catch-all."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="aliases")
    local_part = models.CharField(max_length=64, blank=True)
    # Normalised addresses (local@a-label), local mailboxes or external.
    destinations = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AliasQuerySet.as_manager()

    class Meta:
        ordering = ["local_part"]
        verbose_name_plural = "aliases"
        constraints = [
            models.UniqueConstraint(fields=["domain", "local_part"], name="alias_unique_address"),
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def is_catch_all(self) -> bool:
        return self.local_part == ""

    @property
    def address(self) -> str:
        return f"{self.local_part}@{self.domain.display_name}" if self.local_part else f"@{self.domain.display_name}"


class LoginFailure(models.Model):
    """Failed logins per key ("account:…" or "client:…") since the start of the current window."""

    key = models.CharField(max_length=400, unique=True)
    count = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


class Postmaster(models.Model):
    """The host-wide destination of every domain's postmaster@ and abuse@ (RFC 5321 §4.5.1,
    RFC 2142), unless a domain has its own: one row, set by a superadmin."""

    address = models.CharField(max_length=320, help_text="A mailbox here, or an address elsewhere.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.address

    @classmethod
    def current(cls) -> str:
        return cls.objects.filter(pk=1).values_list("address", flat=True).first() or ""


class Address(models.Model):
    """One row per receiving address, whoever owns it (a mailbox or an alias; "" is the
    catch-all). Its unique constraint makes "one address, one owner" the database's rule:
    two requests racing to create the same address cannot both win (accounts.actions)."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="+")
    local_part = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name_plural = "addresses"
        constraints = [models.UniqueConstraint(fields=["domain", "local_part"], name="one_owner_per_address")]

    def __str__(self) -> str:
        return f"{self.local_part}@{self.domain_id}"


class Vacation(models.Model):
    """An automatic reply (Sieve vacation, RFC 5230): once per sender per `days`, never to lists,
    bulk or automatic mail (RFC 3834), between the optional dates (checked by the script itself,
    since the renderer has no clock)."""

    mailbox = models.OneToOneField(Mailbox, on_delete=models.CASCADE, related_name="vacation")
    enabled = models.BooleanField(default=False)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(max_length=5000, blank=True)
    start = models.DateField(null=True, blank=True)
    end = models.DateField(null=True, blank=True)
    days = models.PositiveSmallIntegerField(default=7, help_text="Reply to each sender at most once in this many days.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"vacation of {self.mailbox_id}"


class Forwarding(models.Model):
    """Mail to the mailbox is sent on to other addresses (Sieve redirect), with or without a copy
    kept; the forward leaves with the mailbox's own address as envelope sender, so it passes SPF."""

    mailbox = models.OneToOneField(Mailbox, on_delete=models.CASCADE, related_name="forwarding")
    destinations = models.JSONField(default=list)
    keep_copy = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"forwarding of {self.mailbox_id}"


class AppPassword(models.Model):
    """A named mail password for one device ("phone"): shown once, stored as a yescrypt hash.

    The daemons try the mailbox's own password, then each slot file in turn (Dovecot's passdbs,
    PAM for OpenSMTPD), with the same user name: a mailbox has at most one app password per slot.
    """

    SLOTS = 10  # as many as the helper's PAM file and dovecot.conf name (export.render.APP_PASSWORD_SLOTS)

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="app_passwords")
    name = models.CharField(max_length=40)
    slot = models.PositiveSmallIntegerField()
    password_hash = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "slot"], name="app_password_one_per_slot"),
            models.UniqueConstraint(fields=["mailbox", "name"], name="app_password_unique_name"),
            models.CheckConstraint(condition=models.Q(slot__gte=1, slot__lte=10), name="app_password_slot_range"),
        ]

    def __str__(self) -> str:
        return f"app password {self.name!r} of {self.mailbox_id}"


class QueuedMail(models.Model):
    """A message OpenSMTPD holds for a mailbox here and has not delivered yet, with the reason
    (accounts.usage.sync_queue replaces them all from the queue every minute or so)."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="queued_mail")
    envelope_id = models.CharField(max_length=16)
    sender = models.CharField(max_length=320, blank=True)
    error = models.CharField(max_length=500, blank=True)
    queued_at = models.DateTimeField()
    retries = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["queued_at"]

    def __str__(self) -> str:
        return f"{self.envelope_id} for {self.mailbox}"
