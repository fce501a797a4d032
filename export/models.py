from django.db import models


class ConfigState(models.Model):
    """One row: how far the daemons' configuration is behind the database.

    Every committed change bumps `wanted`; an apply records the `wanted` it rendered in
    `applied`. `running_since` says an apply is under way (apply.apply_lock keeps them one at a time).
    """

    wanted = models.PositiveBigIntegerField(default=0)
    applied = models.PositiveBigIntegerField(default=0)
    attempted = models.PositiveBigIntegerField(default=0)
    running_since = models.DateTimeField(null=True, blank=True)
    last_generation = models.PositiveBigIntegerField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_ok = models.BooleanField(null=True)
    # Failed applies since the last success: the retry waits 1, 2, 4 … seconds, up to a minute.
    failures_in_a_row = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_applied_generation = models.PositiveBigIntegerField(null=True, blank=True)
    last_applied_at = models.DateTimeField(null=True, blank=True)
    # The rows the last successful apply left out (its Generation.problems), for every page's status line.
    last_problems = models.JSONField(default=list)
    # Domains with mail waiting in OpenSMTPD's queue (accounts.QueuedMail): only their pages look.
    queued_domains = models.JSONField(default=list)
    # Which process's in-memory copy of the last rendered generation is current (export.apply):
    # any other process, or this one after a restore, renders everything again.
    renderer = models.CharField(max_length=32, blank=True)
    # The helper refuses the first apply over mail tables built by hand (what it found is kept
    # here for the Apply page) until the host is adopted or a superadmin confirms replacing them.
    hand_built = models.JSONField(default=list)
    replace_hand_built = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"wanted {self.wanted}, applied {self.applied}"

    def problems_of(self, domain_name: str) -> list[dict]:
        return [p for p in self.last_problems if p["domain"] == domain_name]

    @property
    def pending(self) -> int:
        return max(0, self.wanted - self.applied)


class Generation(models.Model):
    """One apply: its number is the primary key, and names the staged directory gen-N."""

    covers = models.PositiveBigIntegerField(help_text="The ConfigState.wanted value this generation rendered.")
    requested_by = models.CharField(max_length=320, default="automatic")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True)
    changed = models.JSONField(default=list)
    reloaded = models.JSONField(default=list)
    error = models.TextField(blank=True)
    # Rows left out of this generation: [{"domain", "row", "reason"}]. The rest was applied.
    problems = models.JSONField(default=list)
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"generation {self.pk}"


class Change(models.Model):
    """What a committed change touched, for the next apply: a mailbox (its password, quota or app
    passwords: only that mailbox's lines are rendered again), or everything (mailbox = None).
    Written in the action's transaction; the apply that covers it deletes it."""

    mailbox_id = models.BigIntegerField(null=True)  # no foreign key: the mailbox may be gone by then

    def __str__(self) -> str:
        return f"change {self.pk}: mailbox {self.mailbox_id}" if self.mailbox_id else f"change {self.pk}: everything"
