"""A consistent, plain-data picture of everything the daemons need, read from the database."""

from dataclasses import dataclass, field

from django.db import connection, transaction

from accounts.models import Alias, AppPassword, Forwarding, Mailbox, Postmaster, Vacation
from dnsrecords.data import mail_host_dns, policy_dns
from dnsrecords.expected import mta_sts_policy
from dnsrecords.models import RecordCheck
from domains import dkim
from domains.models import DkimKey, Domain, DomainPolicy
from export.sieve import SieveRow


@dataclass(slots=True)
class MailboxRow:
    # Not frozen: 100,000 frozen dataclasses take three times as long to build.
    local_part: str
    domain: str  # A-label
    password_hash: str
    quota_mb: int
    # IMAP and SMTP take only its app passwords (its own hash is left out of the passdb).
    app_passwords_only: bool = False
    # Its own home, kept from an adopted host (accounts.models.Mailbox.home); "" for the usual one.
    home: str = ""
    address: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        # Computed once: the renderers read it several times per mailbox.
        self.address = f"{self.local_part}@{self.domain}"


@dataclass(slots=True)
class AppPasswordRow:
    # Not frozen, like MailboxRow: there may be hundreds of thousands.
    address: str  # the mailbox's, local@A-label
    slot: int
    password_hash: str = field(repr=False)


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
    mta_sts_policies: tuple[tuple[str, str], ...] = ()  # (domain, policy text)
    # Our domains that receive no mail now (disabled, or an alias of a disabled one): an alias
    # destination there is dropped rather than relayed out to ourselves.
    inactive_domains: tuple[str, ...] = ()
    # Where postmaster@ and abuse@ of every domain go unless the domain has its own ("" = unset).
    postmaster: str = ""
    sieve: tuple[SieveRow, ...] = ()  # mailboxes with a vacation reply or forwarding
    app_passwords: tuple[AppPasswordRow, ...] = ()  # of the mailboxes above, by slot, then address


def mta_sts_policies(names: dict[int, str]) -> tuple[tuple[str, str], ...]:
    policies = {p.domain_id: p for p in DomainPolicy.objects.filter(domain_id__in=names)}
    host = mail_host_dns()
    found = []
    for domain_id, name in sorted(names.items(), key=lambda item: item[1]):
        dns = policy_dns(name, policies.get(domain_id))
        if not dns.parked:  # mode none is served too: it is how a domain opts out (RFC 8461 §8.3)
            found.append((name, mta_sts_policy(dns, host)))
    return tuple(found)


def _alias_domain_keys(keys: list, alias_domains: tuple[tuple[str, str], ...]) -> list[tuple[str, str, str, str]]:
    """An alias domain signs with its target's active keys, each once a live check has seen the
    record published under the alias domain's own name (dnsrecords keeps that in RecordCheck)."""
    by_target: dict[str, list[tuple[str, str, str]]] = {}
    for domain, selector, algorithm, token in keys:
        by_target.setdefault(domain, []).append((selector, algorithm, token))
    own_keys = set(by_target)
    seen = set(
        RecordCheck.objects.filter(domain__alias_of__isnull=False, first_ok_at__isnull=False).values_list(
            "domain__name", "key"
        )
    )
    return [
        (alias, selector, algorithm, token)
        for alias, target in sorted(alias_domains)
        if alias not in own_keys
        for selector, algorithm, token in by_target.get(target, ())
        if (alias, f"TXT {dkim.record_name(selector, alias)}") in seen
    ]


def _sieve_rows(names: dict[int, str]) -> tuple[SieveRow, ...]:
    """Vacation replies and forwards of active mailboxes in exported domains, by address."""
    # Read from the (few) vacations and forwards, joined to their mailboxes: a filter on the
    # mailboxes first ("mailbox__in" a query of live ones) cost a third of a second at 100,000.
    rows: dict[str, dict] = {}
    vacations = Vacation.objects.filter(enabled=True, mailbox__active=True).values_list(
        "mailbox__local_part", "mailbox__domain_id", "subject", "body", "start", "end", "days"
    )
    for local, domain_id, subject, body, start, end, days in vacations:
        if domain_id not in names:
            continue
        rows.setdefault(f"{local}@{names[domain_id]}", {}).update(
            vacation=True,
            subject=subject,
            body=body,
            start=start.isoformat() if start else "",
            end=end.isoformat() if end else "",
            days=days,
        )
    forwards = Forwarding.objects.filter(mailbox__active=True).exclude(destinations=[])
    for local, domain_id, destinations, keep_copy in forwards.values_list(
        "mailbox__local_part", "mailbox__domain_id", "destinations", "keep_copy"
    ):
        if domain_id not in names:
            continue
        rows.setdefault(f"{local}@{names[domain_id]}", {}).update(forward_to=tuple(destinations), keep_copy=keep_copy)
    return tuple(SieveRow(address, **fields) for address, fields in sorted(rows.items()))


def take_snapshot() -> Snapshot:
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            # Every query below must see the same committed state (SQLite's transactions always do).
            connection.cursor().execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        domains = list(Domain.objects.values_list("pk", "name", "active", "alias_of__name", "alias_of__active"))
        # Exported domains: active ones, and alias domains whose target is active too.
        names = {pk: name for pk, name, active, target, _ in domains if active and target is None}
        receiving = {pk: name for pk, name, active, target, ok in domains if active and (target is None or ok)}
        alias_domains = tuple((name, target) for _, name, active, target, ok in domains if active and target and ok)
        # Mailboxes are read in one scan, without a join, and named here: at 100,000 rows this
        # takes a quarter of the time of a join or an IN list over the domains.
        rows = (
            Mailbox.objects.filter(active=True)
            .order_by()
            .values_list("pk", "local_part", "domain_id", "password_hash", "quota_mb", "app_passwords_only", "home")
        )
        # App passwords are read the same way and named through the mailboxes read here.
        app_password_rows = AppPassword.objects.order_by().values_list("mailbox_id", "slot", "password_hash")
        with connection.cursor() as cursor:
            # The ORM's own query, fetched without its per-row conversions (SQLite's booleans are
            # 0 and 1, which serve as well).
            cursor.execute(*rows.query.sql_with_params())
            mailboxes, addresses = [], {}
            for pk, local, domain_id, hashed, quota, only, home in cursor.fetchall():
                if domain_id in names:
                    mailboxes.append((local, names[domain_id], hashed, quota, only, home))
                    addresses[pk] = f"{local}@{names[domain_id]}"
            cursor.execute(*app_password_rows.query.sql_with_params())
            app_passwords = sorted(
                (slot, addresses[mailbox_id], hashed)
                for mailbox_id, slot, hashed in cursor.fetchall()
                if mailbox_id in addresses
            )
        mailboxes.sort(key=lambda row: (row[1], row[0]))
        aliases = Alias.objects.filter(active=True, domain__active=True, domain__alias_of=None).values_list(
            "local_part", "domain__name", "destinations"
        )
        # Alias domains made before they shared their target's keys may still have keys of their own.
        keys = list(
            DkimKey.objects.filter(state=DkimKey.ACTIVE, domain__active=True)
            .order_by("domain__name", "selector")
            .values_list("domain__name", "selector", "algorithm", "private_key_encrypted")
        )
        return Snapshot(
            app_passwords=tuple(AppPasswordRow(address, slot, hashed) for slot, address, hashed in app_passwords),
            # Alias domains receive mail at the same MX, so they serve a policy too.
            mta_sts_policies=mta_sts_policies(receiving),
            postmaster=Postmaster.current(),
            sieve=_sieve_rows(names),
            domains=tuple(names.values()),
            alias_domains=alias_domains,
            inactive_domains=tuple(name for pk, name, *_ in domains if pk not in receiving),
            mailboxes=tuple(MailboxRow(*row) for row in mailboxes),
            aliases=tuple(
                AliasRow(local, domain, tuple(dest))
                for local, domain, dest in aliases.order_by("domain__name", "local_part")
            ),
            dkim_keys=tuple(
                DkimKeyRow(domain, selector, algorithm, dkim.decrypt(token))
                for domain, selector, algorithm, token in [*keys, *_alias_domain_keys(keys, alias_domains)]
            ),
        )
