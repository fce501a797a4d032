"""Second factors for the web sign-in: passkeys, an authenticator app (TOTP), recovery codes,
and who must have one.

Every factor hangs off one Enrolment, which belongs to an admin (`user`) or to a mailbox user
(`mailbox`), never both and never neither (a check constraint). Mailbox users are not Django
users, so the two kinds of person are two nullable keys rather than one.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Mailbox
from domains.models import Domain


class Enrolment(models.Model):
    """One person's second factors: the WebAuthn user handle their passkeys are made for, their
    authenticator app, and whether a passkey alone signs them in."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # 32 random bytes, base64url: what a passkey names its account by (never the address or name).
    user_handle = models.CharField(max_length=64, unique=True)
    # The authenticator app's key (base32, as apps read it), sealed (core.sealed: a copy of the
    # database alone does not give the second factor away); empty: no authenticator app.
    totp_secret = models.CharField(max_length=255, blank=True)
    # The last 30-second step a code was accepted for: that code, and every earlier one, is refused.
    totp_last_step = models.BigIntegerField(null=True, blank=True)
    passwordless = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, mailbox__isnull=True) | Q(user__isnull=True, mailbox__isnull=False),
                name="enrolment_one_owner",
            ),
            models.UniqueConstraint(fields=["user"], name="enrolment_one_per_admin"),
            models.UniqueConstraint(fields=["mailbox"], name="enrolment_one_per_mailbox"),
        ]

    def __str__(self) -> str:
        return f"second factors of {self.user or self.mailbox}"


class Passkey(models.Model):
    """A WebAuthn credential (discoverable), as py_webauthn verified it at registration."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="passkeys")
    name = models.CharField(max_length=60)
    # base64url of the credential id (at most 1023 bytes by the specification).
    credential_id = models.CharField(max_length=1400, unique=True)
    public_key = models.BinaryField()  # COSE, as the authenticator gave it
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.name


class RecoveryCode(models.Model):
    """One unused recovery code, hashed (factors.recovery); using it deletes the row."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"recovery code {self.pk}"


class Policy(models.Model):
    """Whether every admin must have a second factor: one row (pk=1), set by a superadmin."""

    all_admins = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return "second factor policy"


class RequiredDomain(models.Model):
    """The admins of this domain must have a second factor."""

    domain = models.OneToOneField(Domain, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return self.domain.name
