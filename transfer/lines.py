"""One line of an imported file, read on its own: its cells parsed, normalised and checked.

`read_line(row, plain_texts)` gives a Line with every problem its cells have (all of them, not
the first), with the rules and the messages of the forms: the same address normalising, the
name's refused characters, quotas as people write them, Django's password validators for a
new password. What a line means for the database is judged afterwards (transfer.plan).

A plain-text password goes into `plain_texts` (line number → text), never into the Line.
"""

import re
from dataclasses import dataclass, field

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.views.decorators.debug import sensitive_variables

from accounts.forms import address_list, refuse_control_characters
from accounts.models import Mailbox
from core.addresses import display_domain, normalize_address, normalize_domain
from core.quota import parse_quota
from transfer import passwords
from transfer.csvformat import KINDS, Row, cell_too_long
from transfer.models import ImportLine

ERROR = ImportLine.ERROR
YES = {"yes", "y", "true", "1", "on", "active", "enabled"}
NO = {"no", "n", "false", "0", "off", "inactive", "disabled"}
NAME_MAX = Mailbox._meta.get_field("display_name").max_length
SHOWN_MAX = 400


@dataclass
class Line:
    number: int
    kind: str
    address: str = ""  # as stored: a domain's A-label, local@a-label, "@a-label" for a catch-all
    shown: str = ""  # as people read it
    domain: str = ""  # the A-label of the domain the line is in (or is)
    local_part: str = ""
    errors: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    plan: str = ""
    # What writing sets: all fields of a new object, the changed ones of an existing one.
    values: dict = field(default_factory=dict)
    password: str = ""  # "", "plain" or "hash"
    password_hash: str = ""
    order: int | None = None
    # Parsed cells, None where the file leaves the column out or the cell empty: kept as it is.
    name: str | None = None
    quota_mb: int | None = None
    active: bool | None = None
    destinations: list[str] | None = None
    alias_of: str | None = None  # the domain a domain line delivers as

    @property
    def message(self) -> str:
        return "; ".join(self.errors) if self.plan == ERROR else "; ".join(self.changes)


def printable(text: str, limit: int = 2000) -> str:
    """Text safe to store and show: control characters as escapes (PostgreSQL refuses a NUL in text)."""
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def messages(error: ValidationError) -> str:
    return " ".join(error.messages)


@sensitive_variables("password", "plain_texts")
def read_line(row: Row, plain_texts: dict[int, str]) -> Line:
    cells = row.cells
    kind = cells.get("type", "").strip().lower()
    address = cells.get("address", "").strip()
    line = Line(row.number, kind, shown=printable(address, SHOWN_MAX))
    if "_extra" in cells:
        line.errors.append(f"the line has {cells.pop('_extra')} cells, more than the first line names")
    for name, value in cells.items():
        if problem := cell_too_long(name, value):
            line.errors.append(problem)
            cells[name] = ""
    if kind not in KINDS:
        what = f"not “{printable(kind, 40)}”" if kind else "and the cell is empty"
        line.errors.append(f"the type must be domain, mailbox or alias, {what}")
        return line
    if not address:
        line.errors.append("the address is empty")
        return line
    {"domain": _read_domain, "mailbox": _read_mailbox, "alias": _read_alias}[kind](line, address, cells)
    line.active = _yes_no(line, cells.get("active"))
    if line.kind != "mailbox" and cells.get("name", "").strip():
        line.errors.append(f"a{'n' if kind == 'alias' else ''} {kind} has no name: leave the name cell empty")
    password = cells.get("password", "")
    if line.kind != "mailbox":
        if password:
            line.errors.append(f"a{'n' if kind == 'alias' else ''} {kind} has no password: leave that cell empty")
        return line
    given = passwords.classify(password)
    line.password, line.password_hash = given.kind, given.hash
    if given.error:
        line.errors.append(given.error)
    elif given.kind == "plain":
        if error := _plain_text_problem(password, line):
            line.errors.append(error)
        elif not line.errors:
            plain_texts[line.number] = password
    return line


def _read_domain(line: Line, address: str, cells: dict[str, str]) -> None:
    try:
        line.address = line.domain = normalize_domain(address)
        line.shown = display_domain(line.domain)
    except ValidationError as e:
        line.errors.append(messages(e))
    line.quota_mb = _quota(line, cells.get("quota"))
    if target := cells.get("destinations", "").strip():
        try:
            line.alias_of = normalize_domain(target)
        except ValidationError as e:
            line.errors.append(f"the domain it delivers as: {messages(e)}")


def _read_mailbox(line: Line, address: str, cells: dict[str, str]) -> None:
    _address(line, address)
    if cells.get("name", "").strip():
        line.name = _text(line, cells["name"], "name")
        if line.name is not None and len(line.name) > NAME_MAX:
            line.errors.append(f"the name has {len(line.name)} characters; the most is {NAME_MAX}")
    line.quota_mb = _quota(line, cells.get("quota"))
    if cells.get("destinations", "").strip():
        line.errors.append("a mailbox has no destinations (its user sets forwarding): leave that cell empty")


def _read_alias(line: Line, address: str, cells: dict[str, str]) -> None:
    if address.startswith(("*@", "@")):
        try:
            line.domain = normalize_domain(address.split("@", 1)[1])
            line.address, line.shown = f"@{line.domain}", f"*@{display_domain(line.domain)}"
        except ValidationError as e:
            line.errors.append(messages(e))
    else:
        _address(line, address)
    text = cells.get("destinations", "")
    try:
        refuse_control_characters(text, "\r\n")
        line.destinations = address_list(re.sub(r"[\s,;]+", "\n", text))
    except ValidationError as e:
        line.errors.append(f"destinations: {messages(e)}")
        return
    if not line.destinations:
        line.errors.append("Enter at least one destination address.")
    elif line.address and line.address in line.destinations:
        line.errors.append("An alias cannot deliver to itself.")
    if cells.get("quota", "").strip():
        line.errors.append("an alias has no quota: leave that cell empty")


def _address(line: Line, address: str) -> None:
    try:
        line.address = normalize_address(address, allow_plus=False)
    except ValidationError as e:
        line.errors.append(messages(e))
        return
    line.local_part, line.domain = line.address.split("@")
    line.shown = f"{line.local_part}@{display_domain(line.domain)}"


def _text(line: Line, value: str, what: str) -> str | None:
    try:
        refuse_control_characters(value)
    except ValidationError as e:
        line.errors.append(f"{what}: {messages(e)}")
        return None
    return value.strip(" ")


def _quota(line: Line, value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        refuse_control_characters(value)
        return parse_quota(value)
    except ValidationError as e:
        line.errors.append(f"quota: {messages(e)}")
        return None


def _yes_no(line: Line, value: str | None) -> bool | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    if text in YES or text in NO:
        return text in YES
    line.errors.append(f"active must be yes or no, not “{printable(text, 40)}”")
    return None


@sensitive_variables("password")
def _plain_text_problem(password: str, line: Line) -> str:
    """What the mailbox form would say about this new password, or "". Never the password itself."""
    try:
        refuse_control_characters(password)
        probe = Mailbox(local_part=line.local_part, display_name=line.name or "")
        password_validation.validate_password(password, probe)
    except ValidationError as e:
        return f"password: {messages(e)}"
    return ""


def refuse_repeats(lines: list[Line]) -> None:
    """An address on two lines: the later one is refused (one line per object)."""
    first: dict[tuple[str, str], int] = {}
    for line in lines:
        if not line.address:
            continue
        key = ("domain" if line.kind == "domain" else "address", line.address)
        if key in first:
            line.errors.append(f"{line.shown} is on line {first[key]} already")
        else:
            first[key] = line.number
