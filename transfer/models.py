"""An import, kept in the database so that its progress and its result survive a reload.

What is never kept here: plain-text passwords. They live only in the memory of the web process
that received the file, for as long as hashing them takes (transfer.runner); a line stores the
hash once it is made, and every hash is wiped when the import ends.
"""

from django.conf import settings
from django.db import models


class ImportJob(models.Model):
    # The dry run found errors: nothing is written, the admin fixes the file and uploads it again.
    REFUSED = "refused"
    # Hashing the plain-text passwords, in a thread of the web process that received them.
    HASHING = "hashing"
    # Every password is a hash now: waiting for the admin to confirm.
    READY = "ready"
    WRITING = "writing"
    DONE = "done"
    CANCELLED = "cancelled"
    # The process died while hashing: the plain texts died with it, nothing was written.
    LOST = "lost"
    # The process died while writing: the lines written stay, the rest can be written still.
    INTERRUPTED = "interrupted"
    # Writing stopped on an unexpected error (recorded in `error`).
    FAILED = "failed"
    STATES = [
        (REFUSED, "refused"),
        (HASHING, "hashing passwords"),
        (READY, "ready"),
        (WRITING, "writing"),
        (DONE, "done"),
        (CANCELLED, "cancelled"),
        (LOST, "interrupted while hashing"),
        (INTERRUPTED, "interrupted while writing"),
        (FAILED, "failed"),
    ]
    ACTIVE = (HASHING, WRITING)
    FINISHED = (REFUSED, DONE, CANCELLED, LOST, FAILED)

    # None: the command line.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    actor_name = models.CharField(max_length=200)
    file_name = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=12, choices=STATES)
    confirmed = models.BooleanField(default=False)
    # Lines by what the dry run found: {"create": n, "change": n, "unchanged": n, "error": n}.
    planned = models.JSONField(default=dict)
    # Lines by what writing did: {"created": n, "changed": n, "unchanged": n, "failed": n}.
    results = models.JSONField(default=dict)
    to_hash = models.PositiveIntegerField(default=0)
    hashed = models.PositiveIntegerField(default=0)
    # Lines to write, in writing order (ImportLine.order 0 … to_write - 1), and how many are committed.
    to_write = models.PositiveIntegerField(default=0)
    written = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # The thread doing the work touches this at least every few seconds; a job left HASHING or
    # WRITING without a touch for runner.STALE died with its process.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE

    @property
    def has_errors(self) -> bool:
        return bool(self.planned.get("error"))


class ImportLine(models.Model):
    """One line of the file as the dry run understood it, and what writing it did."""

    CREATE, CHANGE, UNCHANGED, ERROR = "create", "change", "unchanged", "error"
    PLANS = [(CREATE, "will create"), (CHANGE, "will change"), (UNCHANGED, "unchanged"), (ERROR, "error")]
    CREATED, CHANGED, FAILED = "created", "changed", "failed"

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="lines")
    number = models.PositiveIntegerField(help_text="The line of the file.")
    # Writing order: domains, then mailboxes, then aliases after the aliases they deliver to.
    # None for a line with an error (never written).
    order = models.PositiveIntegerField(null=True)
    kind = models.CharField(max_length=7)  # domain, mailbox, alias
    # As stored (A-labels; "@domain" for a catch-all), and as people read it.
    address = models.CharField(max_length=330)
    shown = models.CharField(max_length=400)
    plan = models.CharField(max_length=9, choices=PLANS)
    # The error, or what will change ("quota 1G → 2G; password").
    message = models.TextField(blank=True)
    # What writing sets: all fields for a new object, only the changed ones otherwise. Never a password.
    values = models.JSONField(default=dict)
    # A plain-text password was given: the web process's thread hashes it into password_hash.
    needs_hash = models.BooleanField(default=False)
    # A hash, as given in the file or made from the plain text; emptied when the import ends.
    password_hash = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=9, blank=True)
    outcome_message = models.TextField(blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="import_line_unique_number")]
        indexes = [models.Index(fields=["job", "order"], name="import_line_writing_order")]

    def __str__(self) -> str:
        return f"line {self.number} of {self.job_id}"
