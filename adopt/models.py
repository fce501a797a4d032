"""An adoption started from the web page: its dry run, kept so that the page shows it again, and
the uploaded archive until the superadmin confirms or cancels.

The archive holds the host's password hashes and DKIM private keys, so it is kept encrypted
with DKIM_ENCRYPTION_KEY (domains.dkim, as the keys are at rest) and emptied once the
adoption is done, cancelled or expired (adopt.views). The report holds neither.
"""

from django.conf import settings
from django.db import models


class Adoption(models.Model):
    CHECKED = "checked"  # the dry run found nothing in the way: waiting for the superadmin
    REFUSED = "refused"  # the dry run has errors: nothing can be adopted from this archive
    ADOPTED = "adopted"
    CANCELLED = "cancelled"
    STATES = [(CHECKED, "checked"), (REFUSED, "refused"), (ADOPTED, "adopted"), (CANCELLED, "cancelled")]

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    file_name = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=10, choices=STATES)
    # Where the configuration files are in the archive (adopt.findings.Paths), as the form gave them.
    paths = models.JSONField(default=dict)
    report = models.JSONField(default=dict)  # adopt.report.Report.as_dict()
    digest = models.CharField(max_length=64)  # of the report shown (Report.digest)
    archive = models.TextField(blank=True)  # Fernet token of the archive; "" once finished
    results = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"adoption {self.pk} ({self.state})"
