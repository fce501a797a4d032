from django.conf import settings
from django.db import models
from django.db.models import Subquery

from core.search import prefix_filter


class AuditEntryQuerySet(models.QuerySet):
    def visible_to(self, user) -> "AuditEntryQuerySet":
        """Superadmins see everything; a domain admin sees the entries of their domains."""
        if user.is_superuser:
            return self
        return self.filter(domain__in=Subquery(user.domains.values("pk")))

    def search(self, query: str) -> "AuditEntryQuerySet":
        return prefix_filter(self, "object_name", query.strip().lower())


class AuditEntry(models.Model):
    """One change, by whom, to what. `changes` is {field: [before, after]} and never holds a secret."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Kept as text so history survives the deletion of the admin, mailbox or domain.
    actor_name = models.CharField(max_length=320)
    domain = models.ForeignKey("domains.Domain", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    domain_name = models.CharField(max_length=253, blank=True)
    action = models.CharField(max_length=32)
    object_type = models.CharField(max_length=32)
    object_name = models.CharField(max_length=320, db_index=True)
    changes = models.JSONField(default=dict)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["domain", "-created_at"], name="audit_domain_recent")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.object_type} {self.object_name}"
