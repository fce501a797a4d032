"""Render again only what a change touched: the apply worker keeps the last generation it rendered
in memory, and a change that names one mailbox (export.dirty.mark_dirty(mailbox=…): its
password, quota or app passwords) re-reads that mailbox and re-renders the files that hold its
own lines, reusing every other file as it was. The result is byte for byte what a full render of
the same database gives (tests/test_incremental_apply.py holds it to that); whenever that cannot
be shown from the change alone, the caller renders everything.
"""

from dataclasses import dataclass, replace

from accounts.models import AppPassword, Mailbox
from core.mailhost import HostConfig
from export.render import (
    APP_PASSWORD_OF,
    Vetted,
    _app_password_refusal,
    _mailbox_refusal,
    app_password_files,
    dovecot_users,
    mail_passwords,
)
from export.snapshot import AppPasswordRow, MailboxRow

# The files a mailbox's own lines are in: everything else is the same after such a change.
MAILBOX_FILES = ("dovecot/users", "dovecot/passwords")


@dataclass(frozen=True)
class Rendered:
    """A generation this process rendered and staged, with what it was rendered from."""

    token: str  # ConfigState.renderer while this copy is the current one
    generation: int
    host: HostConfig
    vetted: Vetted
    files: dict[str, bytes]
    digests: dict[str, str]


def rerender(previous: Rendered, mailbox_ids: set[int], host: HostConfig) -> tuple[Vetted, dict[str, bytes]] | None:
    """The vetted snapshot and files after these mailboxes changed their own lines, or None when
    a full render is needed (a mailbox appeared, went, moved, was switched off, or would be
    left out: each of those changes other files too)."""
    if host != previous.host:
        return None
    snapshot = previous.vetted.snapshot
    index = {row.address: i for i, row in enumerate(snapshot.mailboxes)}
    rows = Mailbox.objects.filter(pk__in=mailbox_ids).values_list(
        "pk",
        "local_part",
        "domain__name",
        "password_hash",
        "quota_mb",
        "app_passwords_only",
        "active",
        "domain__active",
        "home",
    )
    mailboxes = list(snapshot.mailboxes)
    changed: dict[int, str] = {}
    for pk, local, domain, hashed, quota, only, active, domain_active, home in rows:
        address = f"{local}@{domain}"
        if not (active and domain_active) or address not in index:
            return None
        row = MailboxRow(local, domain, hashed, quota, bool(only), home)
        # A new home was never vetted against the vmail root: render everything.
        if home != snapshot.mailboxes[index[address]].home or _mailbox_refusal(row) is not None:
            return None
        mailboxes[index[address]] = row
        changed[pk] = address
    if len(changed) != len(mailbox_ids):
        return None  # a mailbox is gone
    if any(
        p.row.startswith(APP_PASSWORD_OF) and p.row.removeprefix(APP_PASSWORD_OF) in changed.values()
        for p in previous.vetted.problems
    ):
        return None
    fresh = [
        AppPasswordRow(changed[mailbox_id], slot, hashed)
        for mailbox_id, slot, hashed in AppPassword.objects.filter(mailbox_id__in=changed).values_list(
            "mailbox_id", "slot", "password_hash"
        )
    ]
    if any(_app_password_refusal(row) is not None for row in fresh):
        return None
    addresses = set(changed.values())
    kept = [row for row in snapshot.app_passwords if row.address not in addresses]
    app_passwords = tuple(sorted([*kept, *fresh], key=lambda row: (row.slot, row.address)))
    snapshot = replace(snapshot, mailboxes=tuple(mailboxes), app_passwords=app_passwords)
    vetted = replace(previous.vetted, snapshot=snapshot)
    files = dict(previous.files)
    files["dovecot/users"] = dovecot_users(snapshot)
    files["dovecot/passwords"] = mail_passwords(snapshot)
    files.update(app_password_files(snapshot))
    return vetted, files
