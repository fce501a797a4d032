"""The apply pipeline: database → render → stage → helper, one apply at a time.

Actions call export.dirty.mark_dirty() inside their transaction; the bump lands when it commits. The apply
worker (manage.py applyworker) calls apply_pending() in a loop, so ten quick edits are
covered by one or two applies. Tests and the "Apply now" button call it directly.

Rows the renderer refuses are left out and recorded on the generation (Generation.problems);
the rest of the host applies (DESIGN decision 10).
"""

import difflib
import fcntl
import gc
import hashlib
import logging
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import connection
from django.db.models import F
from django.utils import timezone

from accounts.mailpasswords import CRYPT_HASH
from core.mailhost import host_config
from export import helper_client
from export.dirty import config_state
from export.incremental import Rendered, rerender
from export.models import Change, ConfigState, Generation
from export.render import RenderError, render_vetted, vet
from export.snapshot import take_snapshot
from export.stage import digests_of, prune_staged, read_staged, stage

RETRY_FAILED_AFTER = timedelta(minutes=1)
APPLY_LOCK_KEY = 0x6D61696C61646D  # "mailadm": the PostgreSQL advisory lock that serializes applies
logger = logging.getLogger(__name__)


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
    # The last attempt at this very state failed: try again soon (a helper restarting after a
    # crash answers within seconds), then less and less often, never in a tight loop.
    if state.last_finished_at is None:
        return True
    wait = min(RETRY_FAILED_AFTER, timedelta(seconds=2 ** max(0, state.failures_in_a_row - 1)))
    return timezone.now() - state.last_finished_at > wait


@contextmanager
def apply_lock() -> Iterator[bool]:
    """Yields whether this process holds the one apply lock. The lock dies with its holder: on
    PostgreSQL a session advisory lock, which the server drops with the connection; on SQLite
    an flock() on a file beside the database, which the kernel drops with the process. So a
    worker killed mid-apply (a crash, the OOM killer, a restart) never stalls the next one."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [APPLY_LOCK_KEY])
            held = cursor.fetchone()[0]
        try:
            yield held
        finally:
            if held:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [APPLY_LOCK_KEY])
        return
    fd = os.open(f"{connection.settings_dict['NAME']}.apply-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)  # releases the lock


def apply_pending(
    *, force: bool = False, requested_by: str = "automatic", helper_timeout: float = 300
) -> Generation | None:
    """Apply the database if it changed since the last successful apply (or always, with force).

    Returns the Generation it made, or None when there was nothing to do or another apply held
    the lock (that one, or the worker's next turn, covers this change). Whatever goes wrong
    inside an apply is recorded on its generation; it never escapes to stop the worker.
    """
    state = config_state()
    if not force and not _due(state):
        return None
    with apply_lock() as held:
        if not held:
            return None
        # Holding the lock, no other apply runs: a generation still open was cut off by a kill.
        Generation.objects.filter(ok=None).update(
            ok=False, finished_at=timezone.now(), error="interrupted: the apply stopped before it finished"
        )
        ConfigState.objects.filter(pk=1).update(running_since=timezone.now())
        try:
            return _apply(requested_by, helper_timeout, full=force)
        finally:
            ConfigState.objects.filter(pk=1).update(running_since=None)


# The last generation this process rendered (export.incremental): valid while ConfigState.renderer
# and last_generation still name it, so an apply made by any other process (or a restored
# database) makes this one render everything again.
_last: Rendered | None = None


def _render(generation: int, full: bool) -> tuple[Rendered, Rendered | None]:
    """Render this generation: again only the lines of the mailboxes the pending changes name,
    when this process rendered the last one (and `full` is not asked for); everything otherwise.
    Returns it, and the previous rendering whose staged files unchanged ones are linked from."""
    global _last
    host = host_config()
    state = ConfigState.objects.values_list("renderer", "last_generation").get(pk=1)
    previous = _last if _last and state == (_last.token, _last.generation) else None
    _last = None  # until this generation is staged
    changes = list(Change.objects.values_list("pk", "mailbox_id"))  # read before the database itself
    named = {mailbox for _, mailbox in changes}
    result = None
    if previous and not full and None not in named:
        result = rerender(previous, named, host)
    with gc_paused():
        if result is None:
            token = uuid.uuid4().hex
            vetted = vet(take_snapshot(), host)
            files = render_vetted(vetted, host)
        else:
            token = previous.token
            vetted, files = result
        digests = digests_of(files, previous.digests if previous else None, previous.files if previous else None)
    Change.objects.filter(pk__in=[pk for pk, _ in changes]).delete()
    return Rendered(token, generation, host, vetted, files, digests), previous


def _apply(requested_by: str, helper_timeout: float, full: bool = True) -> Generation:
    global _last
    wanted, replace_hand_built = ConfigState.objects.values_list("wanted", "replace_hand_built").get(pk=1)
    generation = Generation.objects.create(covers=wanted, requested_by=requested_by)
    problems: list[str | dict] = []
    try:
        rendered, previous = _render(generation.pk, full)
        vetted, files = rendered.vetted, rendered.files
        problems = [{"domain": p.domain, "row": p.row, "reason": p.reason} for p in vetted.problems]
        link_from = (previous.generation, previous.digests) if previous else None
        stage(generation.pk, files, rendered.digests, link_from)
        ConfigState.objects.filter(pk=1).update(renderer=rendered.token, last_generation=generation.pk)
        _last = rendered
        request = {"op": "apply", "generation": generation.pk, "replace_hand_built": replace_hand_built}
        answer = helper_client.call(request, timeout=helper_timeout)
    except (RenderError, helper_client.HelperError, OSError) as e:
        answer = {"ok": False, "error": str(e)}
    except Exception as e:  # a bug must not stop every later apply: record it and carry on
        logger.exception("apply of generation %s failed", generation.pk)
        answer = {"ok": False, "error": f"internal error ({type(e).__name__}): {e}"}
    _record(generation, wanted, answer, problems)
    return generation


def _record(generation: Generation, wanted: int, answer: dict, problems: list) -> None:
    now = timezone.now()
    generation.finished_at = now
    generation.problems = problems
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
        "failures_in_a_row": 0 if generation.ok else F("failures_in_a_row") + 1,
    }
    if generation.ok or "hand_built" in answer:  # another failure says nothing about the host's files
        fields["hand_built"] = answer.get("hand_built", [])
    if generation.ok:
        fields |= {
            "applied": wanted,
            "last_applied_generation": generation.pk,
            "last_applied_at": now,
            "last_problems": problems,
        }
    ConfigState.objects.filter(pk=1).update(**fields)
    keep = {generation.pk, config_state().last_applied_generation or 0}
    prune_staged(keep)


_HASH_FIELD = re.compile(rb"(\{CRYPT\}|\s|:)(" + CRYPT_HASH.pattern.encode() + rb")")
# Files that hold password hashes (smtpd/passwds: generations from before app passwords).
_HASH_FILES = re.compile(r"dovecot/(users|passwords|app-passwords-\d+)|smtpd/passwds")


def _fingerprint(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()[:8]


def redact(rel: str, data: bytes) -> list[str]:
    """The file as lines a page may show: password hashes and private keys replaced by fingerprints."""
    if rel.startswith("rspamd/dkim/"):
        return [f"(private key, {len(data)} bytes, fingerprint {_fingerprint(data)})"]
    if _HASH_FILES.fullmatch(rel):
        data = _HASH_FIELD.sub(lambda m: m.group(1) + f"<hash {_fingerprint(m.group(2))}>".encode(), data)
    return data.decode("utf-8", "replace").splitlines()


def preview() -> list[tuple[str, list[str]]]:
    """(file, unified diff lines) for each file the next apply would change."""
    state = config_state()
    before = read_staged(state.last_applied_generation) if state.last_applied_generation else {}
    host = host_config()
    after = render_vetted(vet(take_snapshot(), host), host)
    diffs = []
    for rel in sorted(set(before) | set(after)):
        if before.get(rel) == after.get(rel):
            continue
        old = redact(rel, before[rel]) if rel in before else []
        new = redact(rel, after[rel]) if rel in after else []
        lines = list(difflib.unified_diff(old, new, f"applied/{rel}", f"next/{rel}", lineterm="", n=2))
        diffs.append((rel, lines[:2000]))
    return diffs
