"""Each mailbox's usage and last IMAP login, as Dovecot writes them, read without root.

Dovecot keeps them in one small file per user (quota_clone and last_login, both file dicts)
in a directory the panel's group may read: USAGE_DIR/<domain>/<local part>.quota holds
"priv/quota/storage\\n<bytes>\\npriv/quota/messages\\n<count>\\n", and .login holds
"shared/last-login/<address>\\n<epoch seconds>\\n". The mailbox user's own page reads its files
directly; sync_usage() copies what changed into the database in the background, so the domain
page can sort 100,000 mailboxes by fill with an index instead of reading 100,000 files.

A file appears only once a mailbox changes (a delivery, an APPEND, an expunge): until then the
usage is unknown; the helper's "measure_usage" request seeds the missing files with doveadm.
"""

import datetime
import os
import time
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from accounts.models import Mailbox, QueuedMail
from core.mailhost import host_config
from core.quota import fill_permille
from domains.models import Domain

# A file written during a sync may carry an mtime just before the sync began: read it again.
MTIME_SLACK = 2.0


@dataclass(frozen=True)
class Usage:
    used_bytes: int | None = None
    used_messages: int | None = None
    last_login_at: datetime.datetime | None = None


def parse_dict_file(text: str) -> dict[str, str]:
    """A Dovecot file dict: key and value on alternate lines."""
    lines = text.split("\n")
    return {lines[i]: lines[i + 1] for i in range(0, len(lines) - 1, 2)}


def _number(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _read(path: str) -> dict[str, str] | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return parse_dict_file(f.read(4096))
    except (FileNotFoundError, NotADirectoryError):
        return None


def _usage_from(quota: dict[str, str] | None, login: dict[str, str] | None) -> Usage:
    quota = quota or {}
    seconds = next((_number(v) for k, v in (login or {}).items() if k.startswith("shared/last-login/")), None)
    return Usage(
        used_bytes=_number(quota.get("priv/quota/storage")),
        used_messages=_number(quota.get("priv/quota/messages")),
        last_login_at=datetime.datetime.fromtimestamp(seconds, datetime.UTC) if seconds else None,
    )


def usage_dir() -> Path:
    return Path(host_config().usage_dir)


def read_usage(mailbox: Mailbox) -> Usage:
    """This mailbox's usage now, from Dovecot's files (for the mailbox user's own page)."""
    base = usage_dir() / mailbox.domain.name / mailbox.local_part
    return _usage_from(_read(f"{base}.quota"), _read(f"{base}.login"))


def changed_files(since: float) -> dict[tuple[str, str], Usage]:
    """{(domain, local part): usage} for every mailbox whose files changed after `since`.
    Dovecot replaces a file by renaming a new one into place, which also touches its domain's
    directory, so a domain whose directory is older than `since` is skipped without a look inside."""
    found: dict[tuple[str, str], Usage] = {}
    try:
        domains = list(os.scandir(usage_dir()))
    except FileNotFoundError:
        return found
    for domain in domains:
        if not domain.is_dir(follow_symlinks=False) or domain.stat().st_mtime < since:
            continue
        names = set()
        for entry in os.scandir(domain.path):
            local, dot, kind = entry.name.rpartition(".")
            if dot and kind in ("quota", "login") and entry.stat(follow_symlinks=False).st_mtime >= since:
                names.add(local)
        for local in names:
            base = os.path.join(domain.path, local)
            found[(domain.name, local)] = _usage_from(_read(f"{base}.quota"), _read(f"{base}.login"))
    return found


def sync_usage(since: float = 0.0) -> tuple[int, float]:
    """Copy the usage files changed after `since` (epoch seconds; 0: all) into the database.
    Returns (mailboxes updated, the `since` to pass next time)."""
    started = time.time()
    found = changed_files(since)
    by_domain: dict[str, set[str]] = {}
    for domain, local in found:
        by_domain.setdefault(domain, set()).add(local)
    domain_ids = dict(Domain.objects.filter(name__in=by_domain).values_list("name", "pk"))
    updated = []
    fields = ["used_bytes", "used_messages", "last_login_at", "fill_permille"]
    for name, locals_ in by_domain.items():
        if name not in domain_ids:
            continue
        rows = Mailbox.objects.filter(domain_id=domain_ids[name], local_part__in=locals_).only(
            "pk", "local_part", "quota_mb", *fields
        )
        for mailbox in rows:
            usage = found[(name, mailbox.local_part)]
            new = {
                "used_bytes": usage.used_bytes if usage.used_bytes is not None else mailbox.used_bytes,
                "used_messages": usage.used_messages if usage.used_messages is not None else mailbox.used_messages,
                "last_login_at": usage.last_login_at or mailbox.last_login_at,
            }
            new["fill_permille"] = fill_permille(new["used_bytes"], mailbox.quota_mb)
            if any(getattr(mailbox, field) != value for field, value in new.items()):
                for field, value in new.items():
                    setattr(mailbox, field, value)
                updated.append(mailbox)
    with transaction.atomic():
        Mailbox.objects.bulk_update(updated, fields, batch_size=1000)
    return len(updated), started - MTIME_SLACK


def sync_queue(envelopes: list[dict]) -> set[str]:
    """Keep the mail waiting in OpenSMTPD's queue for this host's mailboxes (from the helper's
    "queue" answer), so an admin sees mail that cannot be delivered and why."""
    waiting = []
    for envelope in envelopes:
        if envelope.get("agent") != "mda":
            continue  # outbound mail waits for other hosts, not for a mailbox here
        local, _, domain = str(envelope.get("destination", "")).rpartition("@")
        waiting.append((domain, local, envelope))
    mailboxes = {}
    for domain, local, _ in waiting:
        mailboxes.setdefault(domain, set()).add(local)
    found = {
        (m.domain.name, m.local_part): m
        for m in Mailbox.objects.filter(domain__name__in=mailboxes)
        .select_related("domain")
        .only("pk", "local_part", "domain__name")
        if m.local_part in mailboxes[m.domain.name]
    }
    rows = [
        QueuedMail(
            mailbox=found[(domain, local)],
            envelope_id=str(envelope.get("id", ""))[:16],
            sender=str(envelope.get("sender", ""))[:320],
            error=str(envelope.get("error", ""))[:500],
            queued_at=datetime.datetime.fromtimestamp(int(envelope.get("created") or 0), datetime.UTC),
            retries=int(envelope.get("retries") or 0),
        )
        for domain, local, envelope in waiting
        if (domain, local) in found
    ]
    with transaction.atomic():
        QueuedMail.objects.all().delete()
        QueuedMail.objects.bulk_create(rows)
    return {domain for domain, local, _ in waiting if (domain, local) in found}
