"""The one door into export for the apps: an action marks the configuration dirty.

Actions call mark_dirty() inside their transaction; the bump lands when it commits, and the
apply worker (export.apply) picks it up. An action that changes only one mailbox's own lines
(its password, quota or app passwords) names it, mark_dirty(mailbox=pk), so the next apply
renders only those lines again; anything else renders everything. This module imports only the
models, so importing it never pulls in the snapshot, the renderer or the helper client.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

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


_held = threading.local()


@contextmanager
def held() -> Iterator[None]:
    """Inside the block, in this thread only, mark_dirty() does nothing: a long import
    (transfer.runner) commits its lines in many transactions and marks the configuration dirty
    once, with the last of them, so the whole import is one apply rather than one per batch."""
    _held.depth = getattr(_held, "depth", 0) + 1
    try:
        yield
    finally:
        _held.depth -= 1


def mark_dirty(*, mailbox: int | None = None) -> None:
    if getattr(_held, "depth", 0):
        return
    Change.objects.create(mailbox_id=mailbox)  # commits, or rolls back, with the change itself
    transaction.on_commit(_bump)
