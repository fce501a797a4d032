"""The dry run of an adoption: what the host's files say, judged the way the CSV import judges a file.

`dry_run(reading, user)` hands the rows adopt.reading made to transfer.plan (the CSV import's
dry run: the same rules, the same words, "will create / will change / unchanged / error"), adds
the reasons only adoption knows (a hash only one daemon verifies, mail outside the vmail root,
…), and plans the DKIM keys. The result is plain data (`Report.as_dict()`), so the web page can
keep it and show it again; nothing in it is secret (no hash, no key: those stay in the Reading).

Nothing is adopted while anything is an error: the host serves as before until every line is
understood, and then all of it is written at once (adopt.actions).
"""

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field

from accounts.models import User
from adopt.findings import CHANGE, ERROR, NOTE, FileRead, Finding, Reading
from domains import dkim
from domains.models import DkimKey
from transfer.plan import Line, plan, printable

CREATE, CHANGE_PLAN, UNCHANGED, ERROR_PLAN = "create", "change", "unchanged", "error"
PLAN_WORDS = {CREATE: "will create", CHANGE_PLAN: "will change", UNCHANGED: "unchanged", ERROR_PLAN: "error"}


@dataclass
class Item:
    number: int
    where: str
    kind: str  # domain, mailbox, alias, DKIM key
    shown: str
    plan: str
    message: str = ""


@dataclass
class Report:
    source: str
    files: list[FileRead] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(item.plan for item in self.items))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == ERROR]

    @property
    def changes(self) -> list[Finding]:
        return [f for f in self.findings if f.level == CHANGE]

    @property
    def notes(self) -> list[Finding]:
        return [f for f in self.findings if f.level == NOTE]

    @property
    def blocked(self) -> bool:
        return bool(self.errors) or any(item.plan == ERROR_PLAN for item in self.items)

    @property
    def to_write(self) -> int:
        return sum(1 for item in self.items if item.plan in (CREATE, CHANGE_PLAN))

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Report":
        return cls(
            data["source"],
            [FileRead(**f) for f in data["files"]],
            [Finding(**f) for f in data["findings"]],
            [Item(**i) for i in data["items"]],
        )

    def digest(self) -> str:
        """Changes when anything the admin was shown changes (the host's files or the database)."""
        shown = {key: value for key, value in self.as_dict().items() if key != "source"}
        return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


@dataclass
class DryRun:
    report: Report
    lines: list[Line]  # transfer.plan's, with adoption's own errors added
    keys: list  # adopt.dkimkeys.FoundKey planned CREATE


def dry_run(reading: Reading, user: User | None) -> DryRun:
    judged = plan(reading.rows, user)
    for line in judged.lines:
        if extra := reading.row_errors.get(line.number):
            if line.number in reading.no_password:
                # The import's own words ask for a plain-text password; adoption said why there is none.
                line.errors = [e for e in line.errors if not e.startswith("a new mailbox needs a password")]
            line.errors += [printable(e) for e in extra]
            line.plan = ERROR_PLAN
    report = Report(reading.source, list(reading.files), list(reading.findings))
    for line in sorted(judged.lines, key=lambda line: line.number):
        report.items.append(
            Item(line.number, reading.where[line.number], line.kind, line.shown, line.plan, printable(line.message))
        )
    keys = _plan_keys(reading, judged.lines, report)
    return DryRun(report, judged.lines, keys)


def _plan_keys(reading: Reading, lines: list[Line], report: Report) -> list:
    adopted = {line.domain for line in lines if line.kind == "domain" and line.plan != ERROR_PLAN}
    existing = {
        (domain, selector): public
        for domain, selector, public in DkimKey.objects.filter(domain__name__in=adopted)
        .exclude(state=DkimKey.REMOVED)
        .values_list("domain__name", "selector", "public_key")
    }
    to_create = []
    number = len(reading.rows)
    for key in reading.keys:
        number += 1
        item = Item(number, key.where, "DKIM key", dkim.record_name(key.selector, key.domain), CREATE)
        if key.error:
            item.plan, item.message = ERROR_PLAN, printable(key.error)
        elif key.domain not in adopted:
            item.plan, item.message = ERROR_PLAN, f"its domain {key.domain} is not adopted"
        elif (key.domain, key.selector) in existing:
            if existing[key.domain, key.selector] == key.public_key:
                item.plan = UNCHANGED
            else:
                item.plan = ERROR_PLAN
                item.message = f"{key.domain} already has another key with the selector {key.selector}"
        else:
            item.message = f"{key.algorithm.upper() if key.algorithm == 'rsa' else 'Ed25519'} {key.bits} bits, signing"
            to_create.append(key)
        report.items.append(item)
    return to_create
