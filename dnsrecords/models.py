from django.db import models

from domains.models import Domain


class RecordCheck(models.Model):
    """The last live check of one expected record, and the one before it (what changed since)."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="record_checks")
    key = models.CharField(max_length=400)
    status = models.CharField(max_length=12)
    detail = models.TextField()
    found = models.JSONField(default=list)
    checked_at = models.DateTimeField()
    previous_status = models.CharField(max_length=12, blank=True)
    previous_checked_at = models.DateTimeField(null=True, blank=True)
    # The first check that found the record as expected. Kept when a later check fails (a
    # transient DNS error must not switch anything off); an alias domain signs from then on.
    first_ok_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["domain", "key"], name="record_check_unique")]

    def __str__(self) -> str:
        return f"{self.key}: {self.status}"

    @property
    def changed(self) -> bool:
        return bool(self.previous_status) and self.previous_status != self.status
