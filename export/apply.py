"""The apply pipeline: database → render → stage → helper, one apply at a time.

Actions call export.dirty.mark_dirty() inside their transaction; the bump lands when it commits. The apply
worker (manage.py applyworker) calls apply_pending() in a loop, so ten quick edits are
covered by one or two applies. Tests and the "Apply now" button call it directly.
"""

import difflib
import gc
import hashlib
import re
from contextlib import contextmanager
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from accounts.mailpasswords import CRYPT_HASH
from export import helper_client
from export.dirty import config_state
from export.host import host_config
from export.models import ConfigState, Generation
from export.render import RenderError, render
from export.snapshot import take_snapshot
from export.stage import prune_staged, read_staged, stage

STALE_CLAIM = timedelta(minutes=10)
RETRY_FAILED_AFTER = timedelta(minutes=1)


@contextmanager
def gc_paused():
    """Hold the cyclic garbage collector while 100,000 rows become objects: it would walk them
    again and again (a fifth of the render time) to free nothing; reference counting frees them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _due(state: ConfigState) -> bool:
    if state.wanted <= state.applied:
        return False
    if state.wanted > state.attempted:
        return True
    # The last attempt at this very state failed: try again now and then, not in a tight loop.
    return state.last_finished_at is None or timezone.now() - state.last_finished_at > RETRY_FAILED_AFTER


def _claim() -> bool:
    now = timezone.now()
    config_state()
    free = Q(running_since__isnull=True) | Q(running_since__lt=now - STALE_CLAIM)
    return ConfigState.objects.filter(free, pk=1).update(running_since=now) == 1


def apply_pending(*, force: bool = False, requested_by: str = "automatic") -> Generation | None:
    """Apply the database if it changed since the last successful apply (or always, with force).

    Returns the Generation it made, or None when there was nothing to do or another apply held
    the claim (that one, or the worker's next turn, covers this change).
    """
    state = config_state()
    if not force and not _due(state):
        return None
    if not _claim():
        return None
    try:
        wanted = ConfigState.objects.values_list("wanted", flat=True).get(pk=1)
        generation = Generation.objects.create(covers=wanted, requested_by=requested_by)
        try:
            with gc_paused():
                files = render(take_snapshot(), host_config())
            stage(generation.pk, files)
            answer = helper_client.call({"op": "apply", "generation": generation.pk})
        except (RenderError, helper_client.HelperError, OSError) as e:
            answer = {"ok": False, "error": str(e)}
        _record(generation, wanted, answer)
        return generation
    finally:
        ConfigState.objects.filter(pk=1).update(running_since=None)


def _record(generation: Generation, wanted: int, answer: dict) -> None:
    now = timezone.now()
    generation.finished_at = now
    generation.ok = bool(answer.get("ok"))
    generation.changed = answer.get("changed", [])
    generation.reloaded = answer.get("reloaded", [])
    generation.error = "" if generation.ok else str(answer.get("error", "unknown error"))
    generation.seconds = answer.get("seconds")
    generation.save()
    fields = {
        "attempted": wanted,
        "last_generation": generation.pk,
        "last_finished_at": now,
        "last_ok": generation.ok,
        "last_error": generation.error,
    }
    if generation.ok:
        fields |= {"applied": wanted, "last_applied_generation": generation.pk, "last_applied_at": now}
    ConfigState.objects.filter(pk=1).update(**fields)
    keep = {generation.pk, config_state().last_applied_generation or 0}
    prune_staged(keep)


_HASH_FIELD = re.compile(rb"(\{CRYPT\}|\s)(" + CRYPT_HASH.pattern.encode() + rb")")


def _fingerprint(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()[:8]


def redact(rel: str, data: bytes) -> list[str]:
    """The file as lines a page may show: password hashes and private keys replaced by fingerprints."""
    if rel.startswith("rspamd/dkim/"):
        return [f"(private key, {len(data)} bytes, fingerprint {_fingerprint(data)})"]
    if rel in ("dovecot/users", "smtpd/passwds"):
        data = _HASH_FIELD.sub(lambda m: m.group(1) + f"<hash {_fingerprint(m.group(2))}>".encode(), data)
    return data.decode("utf-8", "replace").splitlines()


def preview() -> list[tuple[str, list[str]]]:
    """(file, unified diff lines) for each file the next apply would change."""
    state = config_state()
    before = read_staged(state.last_applied_generation) if state.last_applied_generation else {}
    after = render(take_snapshot(), host_config())
    diffs = []
    for rel in sorted(set(before) | set(after)):
        if before.get(rel) == after.get(rel):
            continue
        old = redact(rel, before[rel]) if rel in before else []
        new = redact(rel, after[rel]) if rel in after else []
        lines = list(difflib.unified_diff(old, new, f"applied/{rel}", f"next/{rel}", lineterm="", n=2))
        diffs.append((rel, lines[:2000]))
    return diffs
