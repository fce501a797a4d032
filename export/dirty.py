"""The one door into export for the apps: an action marks the configuration dirty.

Actions call mark_dirty() inside their transaction; the bump lands when it commits, and the
apply worker (export.apply) picks it up. An action that changes only one mailbox's own lines
(its password, quota or app passwords) names it, mark_dirty(mailbox=pk), so the next apply
renders only those lines again; anything else renders everything. This module imports only the
models, so importing it never pulls in the snapshot, the renderer or the helper client.
"""

from django.db import transaction
from django.db.models import F

from export.models import Change, ConfigState


def config_state() -> ConfigState:
    state, _ = ConfigState.objects.get_or_create(pk=1)
    return state


def _bump() -> None:
    if not ConfigState.objects.filter(pk=1).update(wanted=F("wanted") + 1):
        config_state()
        ConfigState.objects.filter(pk=1).update(wanted=F("wanted") + 1)


def mark_dirty(*, mailbox: int | None = None) -> None:
    Change.objects.create(mailbox_id=mailbox)  # commits, or rolls back, with the change itself
    transaction.on_commit(_bump)
