"""OpenSMTPD's side of a hand-built host: smtpd.conf reduced to its tables, by the role it gives each.

The roles: `for domain <t>` in a match whose action delivers by LMTP (the domains received),
that action's `virtual <t>` (addresses and aliases) and `userbase <t>` (the local user that means
"Dovecot, as the address itself"), `rcpt-to <t>` in that match (recipients accepted), and on the
listeners `auth <t>` (credentials) and `senders <t>` (who may send as whom).
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from adopt.findings import CHANGE, ERROR, NOTE, FileRead, Reading, read_file
from adopt.parsers import Entry, Problem, Table, Where, inline_table, smtpd_statements, table_file
from adopt.sources import Missing, Source
from core.addresses import normalize_domain

# --- OpenSMTPD ------------------------------------------------------------------------------------


@dataclass
class _Action:
    name: str
    method: str
    where: Where
    options: dict[str, str] = field(default_factory=dict)
    rcpt_to: bool = False


class Smtpd:
    """What smtpd.conf says, reduced to the tables by their role."""

    def __init__(self, reading: Reading) -> None:
        self.reading = reading
        self.domain_tables: list[Table] = []
        self.literal_domains: list[tuple[str, Where]] = []
        self.virtuals: list[Table] = []
        self.userbase_users: set[str] = set()
        self.recipients: Table | None = None
        self.credentials: Table | None = None
        self.senders: Table | None = None

    @classmethod
    def read(cls, source: Source, path: str, reading: Reading) -> "Smtpd":
        smtpd = cls(reading)
        read_file(source, path, "OpenSMTPD's configuration", reading)
        problems: list[Problem] = []
        statements = smtpd_statements(source, path, problems)
        reading.files.append(FileRead(path, "OpenSMTPD's configuration", len(statements)))
        for problem in problems:
            reading.add(ERROR, problem.where, "smtpd.conf", problem.message)
        declared: dict[str, tuple[list[str], Where]] = {}
        actions: dict[str, _Action] = {}
        matches, listeners = [], []
        for statement in statements:
            words, where = statement.words, statement.where
            if words[0] == "table" and len(words) >= 3:
                declared[words[1]] = (words[2:], where)
            elif words[0] == "action" and len(words) >= 3:
                action = _Action(_unquote(words[1]), words[2], where)
                rest = words[3:]
                for i, word in enumerate(rest):
                    if word in ("virtual", "alias", "userbase", "user", "helo") and i + 1 < len(rest):
                        action.options[word] = rest[i + 1]
                    action.rcpt_to |= word == "rcpt-to"
                actions[action.name] = action
            elif words[0] == "match":
                matches.append(statement)
            elif words[0] == "listen":
                listeners.append(statement)
            elif words[:2] == ["srs", "key"]:
                reading.add(
                    CHANGE,
                    where,
                    "SRS",
                    "OpenSMTPD rewrites forwarded senders with its own SRS key: bounces to mail forwarded before "
                    "adopting come back only if SRS_KEY is set to that key (README, configuration)",
                )
        tables = Tables(source, declared, reading)
        smtpd._matches(matches, actions, tables)
        smtpd._listeners(listeners, tables)
        reading.files += tables.files
        return smtpd

    def _matches(self, matches: list, actions: dict[str, _Action], tables: "Tables") -> None:
        delivering = False
        for statement in matches:
            words, where = statement.words, statement.where
            action = actions.get(_unquote(words[words.index("action") + 1])) if "action" in words[:-1] else None
            if action is None:
                self.reading.add(ERROR, where, "match rule", "names no action this file declares")
                continue
            if "domain" not in words:
                if action.method != "relay":
                    self.reading.add(
                        NOTE,
                        where,
                        "local mail",
                        f"mail for local users (action “{action.name}”) is the system's, not the panel's: not adopted",
                    )
                continue
            target = words[words.index("domain") + 1] if words.index("domain") + 1 < len(words) else ""
            if action.method != "lmtp":
                self.reading.add(
                    ERROR, where, "delivery", f"mail for these domains goes to “{action.method}”, not to Dovecot's LMTP"
                )
                continue
            delivering = True
            if target == "regex":
                self.reading.add(ERROR, where, "domains", "a regex domain table cannot be listed as domains")
            elif target.startswith("<"):
                if table := tables.get(target, where, "domains", "list"):
                    self.domain_tables.append(table)
            else:
                self.literal_domains.append((_unquote(target), where))
            if "rcpt-to" in words and (i := words.index("rcpt-to")) + 1 < len(words) and words[i - 1] != "!":
                self.recipients = tables.get(words[i + 1], where, "recipients", "list")
            if not action.rcpt_to:
                self.reading.add(
                    ERROR,
                    action.where,
                    "delivery",
                    f"the action “{action.name}” has no rcpt-to: Dovecot is handed the local user, not the address",
                )
            if "virtual" in action.options and (
                table := tables.get(action.options["virtual"], action.where, "virtual")
            ):
                if table not in self.virtuals:
                    self.virtuals.append(table)
            elif "virtual" not in action.options:
                self.reading.add(ERROR, action.where, "delivery", f"the action “{action.name}” has no virtual table")
            if "userbase" in action.options and (
                table := tables.get(action.options["userbase"], action.where, "userbase")
            ):
                self.userbase_users |= {entry.key.lower() for entry in table.entries}
            if "user" in action.options:
                self.userbase_users.add(_unquote(action.options["user"]).lower())
        if not delivering:
            self.reading.add(ERROR, "smtpd.conf", "delivery", "no match rule delivers mail for domains to Dovecot")
        self.userbase_users = self.userbase_users or {"vmail"}

    def _listeners(self, listeners: list, tables: "Tables") -> None:
        sender_tables = []
        for statement in listeners:
            words, where = statement.words, statement.where
            for i, word in enumerate(words):
                following = words[i + 1] if i + 1 < len(words) else ""
                if word in ("auth", "auth-optional"):
                    if following.startswith("<"):
                        self.credentials = tables.get(following, where, "credentials") or self.credentials
                    else:
                        self.reading.add(
                            ERROR,
                            where,
                            "SMTP logins",
                            "OpenSMTPD checks passwords through PAM (auth without a table): which mailbox may send "
                            "with which password cannot be read from files",
                        )
                if word == "senders" and following.startswith("<"):
                    sender_tables.append(where)
                    self.senders = tables.get(following, where, "senders") or self.senders
        if self.credentials is not None:
            self.reading.add(
                CHANGE,
                "smtpd.conf",
                "SMTP logins",
                "OpenSMTPD took SMTP user names in any mix of capitals here (its tables compare in lower case); the "
                "panel's OpenSMTPD checks passwords through PAM, which takes a name only as the panel stores it, in "
                "lower case: a mail app that signs in to SMTP as Alice@Example.org must be changed to alice@example.org",
            )
        if self.credentials is None:
            self.reading.add(
                CHANGE,
                "smtpd.conf",
                "SMTP logins",
                "no listener takes SMTP logins here; every mailbox will be able to send",
            )
        if not sender_tables:
            self.reading.add(
                CHANGE,
                "smtpd.conf",
                "senders",
                "a signed-in user could send as any address here (no senders table); the panel lets a mailbox send "
                "as its own address and the aliases that deliver to it",
            )

    def domains(self) -> dict[str, Where]:
        """Each domain received, as written (normalised by the import's rules), with where it was read."""
        found: dict[str, Where] = {}
        for table in self.domain_tables:
            for entry in table.entries:
                found.setdefault(entry.key, entry.where)
        for name, where in self.literal_domains:
            found.setdefault(name, where)
        by_name: dict[str, Where] = {}
        for name, where in found.items():
            try:
                key = normalize_domain(name)
            except ValidationError:
                key = name  # transfer.plan says why, on its line
            by_name.setdefault(key, where)
        return by_name

    def virtual(self) -> dict[str, Entry]:
        merged: dict[str, Entry] = {}
        for table in self.virtuals:
            merged.update(table.mapping())
        return merged


class Tables:
    """The tables smtpd.conf declares, each read once, by name."""

    def __init__(self, source: Source, declared: dict[str, tuple[list[str], Where]], reading: Reading) -> None:
        self.source, self.declared, self.reading = source, declared, reading
        self.read: dict[str, Table | None] = {}
        self.files: list[FileRead] = []

    def get(self, reference: str, where: Where, role: str, kind: str = "mapping") -> Table | None:
        name = reference.strip("<>")
        if name not in self.read:
            self.read[name] = self._load(name, where, role)
        table = self.read[name]
        if table is not None and table.entries and table.kind != kind:
            self.reading.add(ERROR, where, f"table {name}", f"is a {table.kind}; as {role} it must be a {kind}")
            return None
        return table

    def _load(self, name: str, where: Where, role: str) -> Table | None:
        if name not in self.declared:
            self.reading.add(ERROR, where, f"table {name}", "is used but never declared")
            return None
        words, declared_at = self.declared[name]
        if words[0] == "{":
            table = inline_table(words, declared_at)
            self.files.append(FileRead(str(declared_at), f"table {name} ({role}), inline", len(table.entries)))
            return table
        spec = _unquote(words[0])
        backend, colon, path = spec.partition(":")
        if not colon:
            backend, path = "file", spec
        if backend != "file":
            hint = " (adopt reads the text file it was made from: point the table at it)" if backend == "db" else ""
            self.reading.add(
                ERROR, declared_at, f"table {name}", f"is a {backend}: table, which adopt cannot read{hint}"
            )
            return None
        try:
            data = self.source.read(path)
        except Missing as e:
            self.reading.add(ERROR, declared_at, f"table {name}", f"cannot be read: {e}")
            return None
        table, problems = table_file(data, path)
        for problem in problems:
            self.reading.add(ERROR, problem.where, f"table {name}", problem.message)
        self.files.append(FileRead(path, f"table {name} ({role})", len(table.entries)))
        return table


def _unquote(word: str) -> str:
    return word[1:-1] if len(word) >= 2 and word[0] == word[-1] == '"' else word
