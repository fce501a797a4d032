"""A consistent, plain-data picture of everything the daemons need, read from the database."""

from dataclasses import dataclass, field

from django.db import connection, transaction

from accounts.models import Alias, Mailbox
from domains import dkim
from domains.models import DkimKey, Domain


@dataclass(frozen=True)
class MailboxRow:
    local_part: str
    domain: str  # A-label
    password_hash: str
    quota_mb: int

    @property
    def address(self) -> str:
        return f"{self.local_part}@{self.domain}"


@dataclass(frozen=True)
class AliasRow:
    local_part: str  # "" for the catch-all
    domain: str
    destinations: tuple[str, ...]


@dataclass(frozen=True)
class DkimKeyRow:
    domain: str
    selector: str
    algorithm: str
    private_export: bytes = field(repr=False)


@dataclass(frozen=True)
class Snapshot:
    """Only what is live: active domains, active mailboxes and aliases of active domains, active keys."""

    domains: tuple[str, ...] = ()
    alias_domains: tuple[tuple[str, str], ...] = ()  # (alias domain, the domain it delivers as)
    mailboxes: tuple[MailboxRow, ...] = ()
    aliases: tuple[AliasRow, ...] = ()
    dkim_keys: tuple[DkimKeyRow, ...] = ()


def take_snapshot() -> Snapshot:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Every query below must see the same committed state.
            connection.cursor().execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        domains = list(Domain.objects.filter(active=True).values_list("name", "alias_of__name", "alias_of__active"))
        mailboxes = Mailbox.objects.filter(active=True, domain__active=True, domain__alias_of=None).values_list(
            "local_part", "domain__name", "password_hash", "quota_mb"
        )
        aliases = Alias.objects.filter(active=True, domain__active=True, domain__alias_of=None).values_list(
            "local_part", "domain__name", "destinations"
        )
        keys = DkimKey.objects.filter(state=DkimKey.ACTIVE, domain__active=True).values_list(
            "domain__name", "selector", "algorithm", "private_key_encrypted"
        )
        return Snapshot(
            domains=tuple(name for name, target, target_active in domains if target is None or target_active),
            alias_domains=tuple((name, target) for name, target, target_active in domains if target and target_active),
            mailboxes=tuple(MailboxRow(*row) for row in mailboxes.order_by("domain__name", "local_part")),
            aliases=tuple(
                AliasRow(local, domain, tuple(dest))
                for local, domain, dest in aliases.order_by("domain__name", "local_part")
            ),
            dkim_keys=tuple(
                DkimKeyRow(domain, selector, algorithm, dkim.decrypt(token))
                for domain, selector, algorithm, token in keys.order_by("domain__name", "selector")
            ),
        )
