"""The dry run: what every line of a file would do, judged from the database without writing to it.

`plan(rows, user)` reads what the file touches in a few queries, then judges each line the way
the actions will when they write it (accounts.actions, domains.actions), with their messages:
the same address and name rules, one owner per address, a domain admin only in their domains,
alias destinations that exist, no loops, no chain deeper than OpenSMTPD expands. Every
error of every line is found, not only the first.

Why not run the actions in a transaction and roll it back: 10,000 mailboxes take 24 s that way
on SQLite, holding the database's one write lock all along (every other change and sign-in
would wait, or fail). Here the same dry run reads and never locks. The actions still check
everything again as the lines are written (transfer.runner), so a race (the address taken
meanwhile) fails that one line, with its reason.

Each line's cells are read first, on their own (transfer.lines); plain-text passwords are
checked there, as the mailbox form checks them, and returned apart (`Plan.plain_texts`), never
inside a line.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.views.decorators.debug import sensitive_variables

from accounts.models import Alias, Mailbox, Postmaster, User
from core.addresses import display_domain
from core.aliasgraph import MAILBOX, MAX_DEPTH, add_alias_domain_twins, walk
from core.quota import format_quota
from domains.models import Domain
from transfer.csvformat import Row
from transfer.lines import Line, printable, read_line, refuse_repeats
from transfer.models import ImportLine

CREATE, CHANGE, UNCHANGED, ERROR = ImportLine.CREATE, ImportLine.CHANGE, ImportLine.UNCHANGED, ImportLine.ERROR
CHUNK = 2000  # values per IN (...): far below SQLite's and PostgreSQL's limits


@dataclass
class Plan:
    lines: list[Line]
    # Line number → plain-text password, for the hashing thread only: never stored.
    plain_texts: dict[int, str] = field(repr=False)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(line.plan for line in self.lines))

    @property
    def errors(self) -> list[Line]:
        return [line for line in self.lines if line.plan == ERROR]


@sensitive_variables("plain_texts")
def plan(rows: Iterable[Row], user: User | None) -> Plan:
    """Every line judged; `user` None is the command line, with a superadmin's rights."""
    plain_texts: dict[int, str] = {}
    lines = [read_line(row, plain_texts) for row in rows]
    refuse_repeats(lines)
    world = _World.read(lines, user)
    for line in lines:
        if not line.errors:
            world.check_rights(line)
    for line in [line for line in lines if line.kind == "domain" and not line.errors]:
        world.judge_domain(line)
    world.settle_domains(lines)
    world.read_addresses(lines)
    for line in lines:
        if line.kind != "domain" and not line.errors:
            world.judge_address(line)
    world.file_mailboxes = {line.address: line for line in lines if line.kind == "mailbox" and not line.errors}
    world.judge_alias_graph([line for line in lines if line.kind == "alias" and not line.errors])
    for line in lines:
        line.plan = ERROR if line.errors else line.plan
        line.errors = [printable(e) for e in line.errors]
        if line.plan == ERROR or line.password != "plain":
            plain_texts.pop(line.number, None)
    _order(lines)
    return Plan(lines, plain_texts if not any(line.plan == ERROR for line in lines) else {})


# Judging lines against the database and against each other.


@dataclass
class _Domain:
    exists: bool
    active: bool
    quota_mb: int
    alias_of: str  # "" for an ordinary domain


class _World:
    def __init__(self, domains: dict[str, _Domain], managed: set[str] | None) -> None:
        self.domains = domains  # the final state: the database's, changed by the file's domain lines
        self.managed = managed  # None: every domain
        # The database's domains as they are, before the file's lines.
        self.before = {name: _Domain(**vars(d)) for name, d in domains.items()}
        self.mailboxes: dict[str, dict] = {}  # the database's, at the file's addresses
        self.aliases: dict[str, dict] = {}
        self.file_mailboxes: dict[str, Line] = {}  # the file's mailbox lines without an error
        self.failed_domains: dict[str, int] = {}  # domain → the number of its line with an error

    @classmethod
    def read(cls, lines: list[Line], user: User | None) -> "_World":
        rows = Domain.objects.values_list("name", "active", "default_quota_mb", "alias_of__name")
        domains = {name: _Domain(True, active, quota, alias_of or "") for name, active, quota, alias_of in rows}
        managed = None
        if user is not None and not user.is_superuser:
            managed = set(Domain.objects.managed_by(user).values_list("name", flat=True))
        return cls(domains, managed)

    def check_rights(self, line: Line) -> None:
        if self.managed is None:
            return
        if line.domain not in self.managed:
            # The same words whether the domain exists or not: its existence is not disclosed.
            line.errors.append(f"{display_domain(line.domain)} is not one of your domains")

    def judge_domain(self, line: Line) -> None:
        name, current = line.domain, self.domains.get(line.domain)
        if current is None:
            line.plan = CREATE
            line.values = {
                "active": line.active is not False,
                "default_quota_mb": line.quota_mb or 0,
                "alias_of": line.alias_of or None,
            }
            self.domains[name] = _Domain(False, line.values["active"], line.values["default_quota_mb"], "")
        else:
            if line.active is not None and line.active != current.active:
                line.values["active"] = line.active
                line.changes.append("enabled" if line.active else "disabled")
            if line.quota_mb is not None and line.quota_mb != current.quota_mb:
                line.values["default_quota_mb"] = line.quota_mb
                line.changes.append(f"default quota {format_quota(current.quota_mb)} → {format_quota(line.quota_mb)}")
            if line.alias_of is not None and line.alias_of != current.alias_of:
                line.values["alias_of"] = line.alias_of
                line.changes.append(f"delivers as {display_domain(line.alias_of)}")
            line.plan = CHANGE if line.values else UNCHANGED
            if line.values and self.managed is not None:
                line.errors.append(f"only a superadmin can change a domain's settings ({'; '.join(line.changes)})")
            current.active = line.values.get("active", current.active)

    def settle_domains(self, lines: list[Line]) -> None:
        """Alias targets, once every domain line is known (a target may come later in the file)."""
        domain_lines = [line for line in lines if line.kind == "domain" and line.domain]
        for line in domain_lines:
            if line.errors or "alias_of" not in line.values:
                continue
            target = line.values["alias_of"]
            self.domains[line.domain].alias_of = target or ""
            if target is None:
                continue
            shown, target_shown = display_domain(line.domain), display_domain(target)
            final = self.domains.get(target)
            if target == line.domain:
                line.errors.append("A domain cannot be an alias of itself.")
            elif final is None:
                line.errors.append(f"{target_shown} is not a domain here: add a line for it first.")
            elif final.alias_of or _delivers_as(lines, target):
                line.errors.append(f"{target_shown} is itself an alias domain; choose the domain it delivers as.")
            elif self.domains[line.domain].exists:
                existing = Domain.objects.get(name=line.domain)
                if existing.alias_domains.exists():
                    line.errors.append(f"Other domains deliver as {shown}; it cannot become an alias itself.")
                elif existing.mailboxes.exists() or existing.aliases.exists():
                    line.errors.append(
                        f"{shown} has mailboxes or aliases; remove them before making it an alias domain."
                    )
        # A new domain whose line has an error takes its addresses down with it (a repeated
        # line or an existing domain does not: their addresses are judged on their own).
        first = {}
        for line in domain_lines:
            first.setdefault(line.domain, line.number)
            if line.errors and first[line.domain] == line.number and line.domain not in self.before:
                self.failed_domains[line.domain] = line.number

    def read_addresses(self, lines: list[Line]) -> None:
        """The mailboxes and aliases already at the file's addresses, a few queries for the lot."""
        wanted: dict[str, list[str]] = defaultdict(list)
        for line in lines:
            if line.kind != "domain" and line.domain and not line.errors:
                wanted[line.domain].append(line.local_part)
        for name, local_parts in wanted.items():
            if not self.domains.get(name, _Domain(False, True, 0, "")).exists:
                continue
            for start in range(0, len(local_parts), CHUNK):
                chunk = local_parts[start : start + CHUNK]
                mailboxes = Mailbox.objects.filter(domain__name=name, local_part__in=chunk).values(
                    "local_part", "display_name", "quota_mb", "active", "password_hash"
                )
                for row in mailboxes:
                    self.mailboxes[f"{row['local_part']}@{name}"] = row
                aliases = Alias.objects.filter(domain__name=name, local_part__in=chunk)
                for row in aliases.values("local_part", "destinations", "active"):
                    self.aliases[_key(row["local_part"], name)] = row

    def judge_address(self, line: Line) -> None:
        domain = self.domains.get(line.domain)
        shown_domain = display_domain(line.domain)
        if line.domain in self.failed_domains:
            number = self.failed_domains[line.domain]
            line.errors.append(f"the line for its domain {shown_domain} (line {number}) has an error")
            return
        if domain is None:
            line.errors.append(f"{shown_domain} is not a domain here: add a line for it first.")
            return
        if domain.alias_of:
            line.errors.append(
                f"{shown_domain} delivers as {display_domain(domain.alias_of)}; add addresses there instead."
            )
            return
        if line.kind == "mailbox":
            self._judge_mailbox(line, domain)
        else:
            self._judge_alias(line)

    def _judge_mailbox(self, line: Line, domain: _Domain) -> None:
        if line.address in self.aliases:
            line.errors.append(f"{line.shown} is already an alias.")
            return
        current = self.mailboxes.get(line.address)
        if current is None:
            if not line.password:
                line.errors.append("a new mailbox needs a password: in plain text, or a crypt(3) hash")
            line.plan = CREATE
            line.values = {
                "display_name": line.name or "",
                "quota_mb": line.quota_mb,
                "active": line.active is not False,
            }
            return
        if line.name is not None and line.name != current["display_name"]:
            line.values["display_name"] = line.name
            line.changes.append(f"name “{printable(current['display_name'], 60)}” → “{printable(line.name, 60)}”")
        if line.quota_mb is not None and line.quota_mb != current["quota_mb"]:
            line.values["quota_mb"] = line.quota_mb
            line.changes.append(f"quota {format_quota(current['quota_mb'])} → {format_quota(line.quota_mb)}")
        if line.active is not None and line.active != current["active"]:
            line.values["active"] = line.active
            line.changes.append("enabled" if line.active else "disabled")
            if not line.active and Postmaster.current() in self._spellings(line):
                line.errors.append(
                    f"{line.shown} receives the host's postmaster and abuse mail: choose another postmaster "
                    "address (Admins → Postmaster) before you disable it."
                )
        if line.password == "plain" or (line.password == "hash" and line.password_hash != current["password_hash"]):
            line.values["password"] = True
            line.changes.append("password")
        line.plan = CHANGE if line.values else UNCHANGED

    def _spellings(self, line: Line) -> set[str]:
        twins = [name for name, d in self.domains.items() if d.alias_of == line.domain]
        return {f"{line.local_part}@{name}" for name in [line.domain, *twins]}

    def _judge_alias(self, line: Line) -> None:
        if line.address in self.mailboxes:
            line.errors.append(f"{line.shown} is already a mailbox.")
            return
        current = self.aliases.get(line.address)
        if current is None:
            line.plan = CREATE
            line.values = {"destinations": line.destinations, "active": line.active is not False}
            return
        if line.destinations != current["destinations"]:
            line.values["destinations"] = line.destinations
            line.changes.append("destinations " + " ".join(line.destinations))
        if line.active is not None and line.active != current["active"]:
            line.values["active"] = line.active
            line.changes.append("enabled" if line.active else "disabled")
        line.plan = CHANGE if line.values else UNCHANGED

    def judge_alias_graph(self, lines: list[Line]) -> None:
        """Destinations that exist, no loops, no chain deeper than OpenSMTPD expands: the whole
        file at once, on the table the renderer would build after it (as accounts.aliasrules
        does for one alias)."""
        live = [line for line in lines if line.plan != UNCHANGED]
        if not live:
            return
        rows = Alias.objects.filter(active=True, domain__active=True, domain__alias_of=None)
        before = {
            _key(local, name): tuple(destinations)
            for local, name, destinations in rows.values_list("local_part", "domain__name", "destinations")
        }
        after = dict(before)
        for line in lines:
            active = line.values.get("active", self.aliases.get(line.address, {}).get("active", True))
            destinations = line.values.get("destinations", line.destinations)
            if active and self.domains[line.domain].active:
                after[line.address] = tuple(destinations)
            else:
                after.pop(line.address, None)
        before_table, after_table = self._with_mailboxes(before, final=False), self._with_mailboxes(after, final=True)
        for line in live:
            if line.values.get("active", self.aliases.get(line.address, {}).get("active", True)):
                self._refuse_dead(line, after_table)
        new = _violations(after_table).items() - _violations(before_table).items()
        by_key = {line.address: line for line in live}
        for key, reason in sorted(new):
            if key in by_key:
                by_key[key].errors.append(f"With these destinations this alias {reason}.")
            else:
                for reached in _reach(after_table, key) & by_key.keys():
                    by_key[reached].errors.append(f"With these destinations, {key} {reason}.")

    def _with_mailboxes(self, aliases: dict[str, tuple[str, ...]], *, final: bool) -> dict[str, tuple[str, ...]]:
        domains = self.domains if final else self.before
        table = dict(aliases)
        twins = {
            name: d.alias_of
            for name, d in domains.items()
            if d.alias_of and d.active and domains.get(d.alias_of, _Domain(False, False, 0, "")).active
        }
        named = {d for destinations in aliases.values() for d in destinations}
        wanted = named | {
            f"{d.rpartition('@')[0]}@{twins[d.rpartition('@')[2]]}" for d in named if d.rpartition("@")[2] in twins
        }
        local_parts = sorted({address.rpartition("@")[0] for address in wanted})
        for start in range(0, len(local_parts), CHUNK):
            rows = Mailbox.objects.filter(
                active=True, domain__active=True, local_part__in=local_parts[start : start + CHUNK]
            ).values_list("local_part", "domain__name")
            for local, name in rows:
                if (address := f"{local}@{name}") in wanted and domains.get(name, _Domain(True, True, 0, "")).active:
                    table[address] = MAILBOX
        if final:
            for address, line in self.file_mailboxes.items():
                active = line.values.get("active", self.mailboxes.get(address, {}).get("active", True))
                if active and domains[line.domain].active:
                    table[address] = MAILBOX
                else:
                    table.pop(address, None)
        add_alias_domain_twins(table, twins.items())
        return table

    def _refuse_dead(self, line: Line, table: dict[str, tuple[str, ...]]) -> None:
        for destination in line.values.get("destinations", line.destinations):
            name = destination.rpartition("@")[2]
            domain = self.domains.get(name)
            if domain is None:
                continue  # another host's address
            if not domain.active:
                line.errors.append(f"{destination}: the domain {name} is disabled here.")
            elif destination not in table:
                line.errors.append(
                    f"{destination} is neither a mailbox nor an alias here: add it first, or check the spelling."
                )


def _delivers_as(lines: list[Line], name: str) -> bool:
    """Whether the file makes `name` an alias domain."""
    return any(line.kind == "domain" and line.domain == name and line.values.get("alias_of") for line in lines)


def _key(local_part: str, domain: str) -> str:
    return f"{local_part}@{domain}" if local_part else f"@{domain}"


def _violations(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    graph = walk(table)
    found = {key: "is part of a loop" for key in graph.looping}
    for key, depth in graph.depth.items():
        if depth > MAX_DEPTH:
            found.setdefault(key, f"would expand {depth} levels deep; OpenSMTPD stops at {MAX_DEPTH}")
    return found


def _reach(table: dict[str, tuple[str, ...]], start: str) -> set[str]:
    """Every key mail to `start` passes through."""
    seen, queue = {start}, [start]
    while queue:
        for destination in table.get(queue.pop(), ()):
            target = destination if destination in table else f"@{destination.rpartition('@')[2]}"
            if target in table and target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _order(lines: list[Line]) -> None:
    """The writing order: ordinary domains, alias domains, mailboxes, then aliases after the
    aliases of this file they deliver to (the action refuses a destination that does not exist yet)."""
    good = [line for line in lines if line.plan != ERROR]
    domains = sorted(
        (line for line in good if line.kind == "domain"), key=lambda line: bool(line.values.get("alias_of"))
    )
    mailboxes = [line for line in good if line.kind == "mailbox"]
    aliases = {line.address: line for line in good if line.kind == "alias"}
    ordered: list[Line] = []
    placed: set[str] = set()

    def destinations(line: Line) -> Iterator[str]:
        return iter(line.values.get("destinations", line.destinations) or ())

    for first in aliases.values():
        if first.address in placed:
            continue
        # Depth first, iteratively; an alias on the current path is skipped (a loop an older
        # version left in the database: its order does not matter, the action judges it).
        stack, on_path = [(first, destinations(first))], {first.address}
        while stack:
            line, pending = stack[-1]
            child = next((aliases[d] for d in pending if d in aliases and d not in placed and d not in on_path), None)
            if child is not None:
                stack.append((child, destinations(child)))
                on_path.add(child.address)
                continue
            stack.pop()
            on_path.discard(line.address)
            placed.add(line.address)
            ordered.append(line)
    for number, line in enumerate([*domains, *mailboxes, *ordered]):
        line.order = number
