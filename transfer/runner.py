"""Running an import: the dry run stored, passwords hashed in the background, lines written in batches.

Which runner, and why. No queue, no extra service: the work runs in threads of the web process,
its state in the database (transfer.models), so the page shows progress and the result from
any process, after any reload.

- Hashing. yescrypt costs ~20 ms a password: 10,000 plain texts take minutes. They are hashed in
  a thread of the web process that received the file, because only that process ever holds
  them: never the database, never a disk (the upload stays in memory, transfer.views). The
  thread starts right after the dry run, while the admin reads it, stores each hash on its line
  and lets go of the plain text as it goes. One thread, one core: the other stays with the
  panel and the daemons.
- Writing starts once the admin has confirmed and every password is a hash, in a thread of
  whichever process sees that last (the hashing thread, or the confirming request; a claim,
  `filter(state=READY, confirmed=True).update(state=WRITING)`, lets exactly one of them write).
  Lines go through the actions, BATCH to a transaction, each in its own savepoint: a line the
  action refuses leaves nothing behind and says why. The job's progress is saved in the same
  transaction as its lines, so the job always knows exactly which lines are written.
- One apply. mark_dirty() is held while the lines are written (export.dirty.held) and called
  once in the transaction of the last batch: the apply worker applies the whole import once.

A crash (the process killed, the server restarted) is seen by the heartbeat: a job that has not
moved for STALE is found `lost` if it was hashing (the plain texts died with the process, and
nothing was written: upload the file again) or `interrupted` if it was writing (the lines written
stay, and the configuration is marked dirty so they are applied; the rest still have their
hashes: the admin continues, or stops there). The command line (manage.py importcsv) does the
same steps in its own process, in the foreground.
"""

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import actions
from accounts.mailpasswords import make_hash
from accounts.models import Alias, Mailbox, User
from audit.log import Actor, record
from core.addresses import display_domain
from domains import actions as domain_actions
from domains.models import Domain
from export.dirty import held, mark_dirty
from transfer.models import ImportJob, ImportLine
from transfer.plan import Plan, printable

BATCH = 100  # lines per transaction while writing: about a quarter of a second on SQLite
HASH_BATCH_SECONDS = 1.0  # hashes are saved (and the heartbeat touched) this often
STALE = timedelta(seconds=60)
EXPIRE = timedelta(hours=1)  # a dry run not confirmed, or an interrupted import not continued
KEEP = timedelta(days=30)  # finished imports, for their reports
logger = logging.getLogger(__name__)


def actor_name(user: User | None) -> str:
    return f"admin {user.username}, CSV import" if user else "command line, CSV import"


def create_job(plan: Plan, *, owner: User | None, file_name: str, confirmed: bool = False) -> ImportJob:
    """The dry run, stored. With an error anywhere, nothing of the file is kept but the report."""
    now = timezone.now()
    counts = plan.counts
    refused = bool(counts.get(ImportLine.ERROR))
    to_hash = 0 if refused else sum(1 for line in plan.lines if line.password == "plain")
    with transaction.atomic():
        job = ImportJob.objects.create(
            owner=owner,
            actor_name=actor_name(owner),
            file_name=printable(file_name, 255),
            state=ImportJob.REFUSED if refused else ImportJob.HASHING if to_hash else ImportJob.READY,
            confirmed=confirmed and not refused,
            planned=counts,
            to_hash=to_hash,
            to_write=0 if refused else len(plan.lines),
            heartbeat_at=now,
            finished_at=now if refused else None,
        )
        rows = [
            ImportLine(
                job=job,
                number=line.number,
                order=None if refused else line.order,
                kind=line.kind[:7],
                address=line.address[:330],
                shown=line.shown[:400],
                plan=line.plan,
                message=line.message,
                values={} if refused else line.values,
                needs_hash=not refused and line.password == "plain",
                password_hash="" if refused else line.password_hash,
            )
            for line in plan.lines
        ]
        ImportLine.objects.bulk_create(rows, batch_size=2000)
    return job


def launch(target: Callable[..., None], *args) -> None:
    """Run `target` in a thread of this process, with its own database connection."""

    def run() -> None:
        try:
            target(*args)
        finally:
            connection.close()

    threading.Thread(target=run, name=f"{target.__name__} {args[0]}", daemon=True).start()


@sensitive_variables("plain_texts", "plain")
def hash_passwords(
    job_id: int, plain_texts: dict[int, str], progress: Callable[[int, int], None] | None = None
) -> None:
    """Hash every plain text onto its line (line number → plain text), letting go of each as it
    is hashed; then write the lines if the admin has confirmed already. The dict is emptied
    whatever happens: nothing of it outlives this call."""
    try:
        ids = dict(ImportLine.objects.filter(job_id=job_id, needs_hash=True).values_list("number", "pk"))
        batch: list[ImportLine] = []
        saved_at, done, total = time.monotonic(), 0, len(plain_texts)
        for number in sorted(plain_texts):
            plain = plain_texts.pop(number)
            batch.append(ImportLine(pk=ids[number], password_hash=make_hash(plain)))
            del plain
            if time.monotonic() - saved_at >= HASH_BATCH_SECONDS or not plain_texts:
                if not _save_hashes(job_id, batch):
                    return  # cancelled, or found dead by another process: stop
                done += len(batch)
                batch, saved_at = [], time.monotonic()
                if progress:
                    progress(done, total)
    except Exception as e:
        logger.exception("import %s: hashing failed", job_id)
        _end(job_id, ImportJob.HASHING, ImportJob.LOST, f"Hashing the passwords failed: {e}")
        return
    finally:
        plain_texts.clear()
    if ImportJob.objects.filter(pk=job_id, state=ImportJob.HASHING).update(
        state=ImportJob.READY, heartbeat_at=timezone.now()
    ) and claim(job_id):
        write(job_id)


def _save_hashes(job_id: int, batch: list[ImportLine]) -> bool:
    with transaction.atomic():
        touched = ImportJob.objects.filter(pk=job_id, state=ImportJob.HASHING).update(
            hashed=F("hashed") + len(batch), heartbeat_at=timezone.now()
        )
        if touched:
            ImportLine.objects.bulk_update(batch, ["password_hash"])
    return bool(touched)


def confirm(job: ImportJob) -> bool:
    """The admin says yes. True if the caller is to write now (every password is a hash)."""
    ImportJob.objects.filter(pk=job.pk, state__in=[ImportJob.HASHING, ImportJob.READY]).update(confirmed=True)
    return claim(job.pk)


def claim(job_id: int) -> bool:
    """Take the job for writing: exactly one caller gets True."""
    return bool(
        ImportJob.objects.filter(pk=job_id, state=ImportJob.READY, confirmed=True).update(
            state=ImportJob.WRITING, heartbeat_at=timezone.now()
        )
    )


def resume(job: ImportJob) -> bool:
    """Continue an import interrupted while writing. True if the caller is to write now."""
    return bool(
        ImportJob.objects.filter(pk=job.pk, state=ImportJob.INTERRUPTED).update(
            state=ImportJob.WRITING, heartbeat_at=timezone.now(), error=""
        )
    )


def cancel(job: ImportJob) -> bool:
    """Stop before writing (or, for an interrupted import, where it stopped); hashes are wiped."""
    states = [ImportJob.HASHING, ImportJob.READY, ImportJob.INTERRUPTED]
    return _end(job.pk, states, ImportJob.CANCELLED, "")


def write(job_id: int) -> None:
    """Write the claimed job's lines from where it stands, batch by batch, until it is done."""
    try:
        while _write_batch(job_id):
            pass
    except Exception as e:
        logger.exception("import %s: writing failed", job_id)
        if _end(job_id, ImportJob.WRITING, ImportJob.INTERRUPTED, f"Writing stopped: {e}", final=False):
            _mark_if_written(job_id)


def _write_batch(job_id: int) -> bool:
    """One transaction: the next BATCH lines and the job's progress. True while lines remain."""
    with transaction.atomic():
        job = ImportJob.objects.get(pk=job_id)
        if job.state != ImportJob.WRITING:
            return False
        owner = User.objects.filter(pk=job.owner_id).first() if job.owner_id else None
        if job.owner_id and (owner is None or not owner.is_active):
            job.error = f"The {job.actor_name.split(',')[0]} was disabled: the lines after those written were not."
            transaction.on_commit(lambda: _mark_if_written(job_id))
            return _save_end(job, ImportJob.FAILED)
        rights = _Rights(owner)
        actor = Actor(job.actor_name, owner)
        lines = list(job.lines.filter(order__gte=job.written, order__lt=job.written + BATCH).order_by("order"))
        with held():
            for line in lines:
                line.outcome, line.outcome_message = _write_line(line, actor, rights)
        ImportLine.objects.bulk_update(lines, ["outcome", "outcome_message"], batch_size=BATCH)
        job.written += len(lines)
        job.results = dict(Counter(job.results) + Counter(line.outcome for line in lines))
        if job.written < job.to_write:
            touched = ImportJob.objects.filter(pk=job_id, state=ImportJob.WRITING).update(
                written=job.written, results=job.results, heartbeat_at=timezone.now()
            )
            if not touched:
                # Another process found this job dead meanwhile: roll these lines back, the
                # job's progress says they were not written.
                transaction.set_rollback(True)
                return False
            return True
        if job.results.get(ImportLine.CREATED) or job.results.get(ImportLine.CHANGED):
            mark_dirty()  # once, for the whole import
        record(
            actor,
            "imported",
            "CSV file",
            job.file_name or "(no name)",
            domain=None,
            changes={outcome: [None, n] for outcome, n in sorted(job.results.items())},
        )
        return _save_end(job, ImportJob.DONE)


def _save_end(job: ImportJob, state: str) -> bool:
    touched = ImportJob.objects.filter(pk=job.pk, state=ImportJob.WRITING).update(
        state=state, written=job.written, results=job.results, error=job.error, finished_at=timezone.now()
    )
    if not touched:
        transaction.set_rollback(True)
    else:
        _wipe(job.pk)
    return False


class _Rights:
    """What the job's owner may do now (checked again at each batch: rights can change)."""

    def __init__(self, owner: User | None) -> None:
        self.all = owner is None or owner.is_superuser
        self.managed = set() if self.all else set(Domain.objects.managed_by(owner).values_list("name", flat=True))
        self.domains: dict[str, Domain] = {}

    def domain(self, name: str) -> Domain:
        if not self.all and name not in self.managed:
            raise ValidationError(f"{display_domain(name)} is not one of your domains.")
        if name not in self.domains:
            domain = Domain.objects.select_related("alias_of").filter(name=name).first()
            if domain is None:
                raise ValidationError(f"{display_domain(name)} does not exist any more.")
            self.domains[name] = domain
        return self.domains[name]


def _write_line(line: ImportLine, actor: Actor, rights: _Rights) -> tuple[str, str]:
    if line.plan == ImportLine.UNCHANGED:
        return ImportLine.UNCHANGED, ""
    try:
        with transaction.atomic():
            WRITERS[line.kind](line, actor, rights)
    except ValidationError as e:
        return ImportLine.FAILED, printable(" ".join(e.messages))
    except DatabaseError as e:
        logger.warning("import line %s refused by the database: %s", line.pk, e)
        return ImportLine.FAILED, printable(f"the database refused it ({e})")
    if line.kind == "domain":
        rights.domains.clear()  # the next lines read the domains as they are now
    return (ImportLine.CREATED if line.plan == ImportLine.CREATE else ImportLine.CHANGED), ""


def _write_domain(line: ImportLine, actor: Actor, rights: _Rights) -> None:
    if not rights.all:
        raise ValidationError("Only a superadmin can add or change domains.")
    values = line.values
    target = values.get("alias_of")
    alias_of = rights.domain(target) if target else None
    if line.plan == ImportLine.CREATE:
        domain_actions.create_domain(
            line.address,
            actor=actor,
            active=values["active"],
            default_quota_mb=values["default_quota_mb"],
            alias_of=alias_of,
        )
        return
    fields = {name: values[name] for name in ("active", "default_quota_mb") if name in values}
    if "alias_of" in values:
        fields["alias_of"] = alias_of
    domain_actions.update_domain(rights.domain(line.address), actor=actor, **fields)


def _write_mailbox(line: ImportLine, actor: Actor, rights: _Rights) -> None:
    values = line.values
    local_part, domain_name = line.address.split("@")
    domain = rights.domain(domain_name)
    wants_password = line.plan == ImportLine.CREATE or values.get("password")
    if wants_password and not line.password_hash:
        raise ValidationError("Its password was never hashed; nothing was written.")
    if line.plan == ImportLine.CREATE:
        actions.create_mailbox(
            domain,
            local_part,
            "",
            actor=actor,
            display_name=values["display_name"],
            quota_mb=values["quota_mb"],
            active=values["active"],
            password_hash=line.password_hash,
        )
        return
    mailbox = Mailbox.objects.filter(domain=domain, local_part=local_part).first()
    if mailbox is None:
        raise ValidationError(f"{line.shown} does not exist any more.")
    mailbox.domain = domain
    fields = {name: values[name] for name in ("display_name", "quota_mb", "active") if name in values}
    if fields:
        actions.update_mailbox(mailbox, actor=actor, **fields)
    if values.get("password"):
        actions.set_mailbox_password(mailbox, "", actor=actor, password_hash=line.password_hash)


def _write_alias(line: ImportLine, actor: Actor, rights: _Rights) -> None:
    values = line.values
    local_part, _, domain_name = line.address.rpartition("@")
    domain = rights.domain(domain_name)
    if line.plan == ImportLine.CREATE:
        actions.create_alias(domain, local_part, values["destinations"], actor=actor, active=values["active"])
        return
    alias = Alias.objects.filter(domain=domain, local_part=local_part).first()
    if alias is None:
        raise ValidationError(f"{line.shown} does not exist any more.")
    alias.domain = domain
    actions.update_alias(alias, actor=actor, destinations=values.get("destinations"), active=values.get("active"))


WRITERS = {"domain": _write_domain, "mailbox": _write_mailbox, "alias": _write_alias}


# Looking at jobs: a job that stopped moving died with its process; one left waiting expires.


def look(job: ImportJob) -> ImportJob:
    """The job as it stands, after noticing whether it died or expired."""
    now = timezone.now()
    moved_at = job.heartbeat_at or job.created_at
    if job.state == ImportJob.HASHING and moved_at < now - STALE:
        _end(job.pk, ImportJob.HASHING, ImportJob.LOST, "", moved_before=now - STALE)
    elif job.state == ImportJob.WRITING and moved_at < now - STALE:
        if _end(job.pk, ImportJob.WRITING, ImportJob.INTERRUPTED, "", final=False, moved_before=now - STALE):
            _mark_if_written(job.pk)
    elif job.state in (ImportJob.READY, ImportJob.INTERRUPTED) and moved_at < now - EXPIRE:
        reason = "Not confirmed within an hour" if job.state == ImportJob.READY else "Not continued within an hour"
        _end(job.pk, job.state, ImportJob.CANCELLED, f"{reason}: upload the file again.", moved_before=now - EXPIRE)
    job.refresh_from_db()
    return job


def look_at_all(jobs: list[ImportJob]) -> list[ImportJob]:
    return [look(job) if job.state not in ImportJob.FINISHED else job for job in jobs]


def prune() -> None:
    """Finished imports are kept a month for their reports."""
    ImportJob.objects.filter(finished_at__lt=timezone.now() - KEEP).delete()


def _end(job_id: int, states, state: str, error: str, *, final: bool = True, moved_before=None) -> bool:
    """Move the job from one of `states` to `state`; wipe its hashes unless it may continue."""
    states = [states] if isinstance(states, str) else states
    jobs = ImportJob.objects.filter(pk=job_id, state__in=states)
    if moved_before is not None:
        jobs = jobs.filter(heartbeat_at__lt=moved_before)
    now = timezone.now()
    fields = {"state": state, "heartbeat_at": now, "finished_at": now if final else None}
    if error:
        fields["error"] = error
    with transaction.atomic():
        touched = bool(jobs.update(**fields))
        if touched and final:
            _wipe(job_id)
    return touched


def _wipe(job_id: int) -> None:
    ImportLine.objects.filter(job_id=job_id).exclude(password_hash="").update(password_hash="")


def _mark_if_written(job_id: int) -> None:
    """Lines written before the import stopped are in the database: apply them."""
    if ImportJob.objects.filter(pk=job_id, written__gt=0).exists():
        with transaction.atomic():
            mark_dirty()


def not_written(job: ImportJob) -> list[int]:
    """The file's line numbers not written yet, in file order."""
    return sorted(job.lines.filter(order__gte=job.written).values_list("number", flat=True))


def ranges(numbers: list[int]) -> str:
    """3, 4, 5, 7, 9, 10 → "3–5, 7, 9–10"."""
    parts, start, previous = [], None, None
    for number in [*numbers, None]:
        if start is not None and number != previous + 1:
            parts.append(f"{start:,}" if start == previous else f"{start:,}–{previous:,}")
            start = None
        if start is None and number is not None:
            start = number
        previous = number
    return ", ".join(parts)
