"""Readers for the four formats a hand-built host keeps its configuration in, as the daemons read them.

Each reader returns plain data with the file and line every value came from, and collects what
it cannot read as problems instead of guessing; none of them evaluates anything (no `<file`
value is opened, no macro runs). What they follow:

- Dovecot's configuration (doveconf(1)): `key = value`, sections `name [argument] {` … `}`,
  `!include` and `!include_try` (relative to the including file, with globs), `#` comments,
  a trailing backslash continues a line.
- OpenSMTPD's smtpd.conf(5): statements on a line (a trailing backslash continues it, braces
  too), `#` comments, "quoted strings", `<table>` references, `name = "value"` macros used as
  `$name`, `include "file"`.
- OpenSMTPD's table(5) files, as smtpd 7.4's parse_table_line() splits them: the key ends at the
  first space, tab or colon; the first entry decides whether the file is a list or a mapping
  (unless a `# @list` comment comes first); keys are compared in lower case, and of two equal
  keys the later wins.
- Rspamd's UCL (the subset its local.d files use): `key = value;`, `key value;`, `key { … }`,
  `key name { … }`, `[ … ]` arrays, "double" and 'single' quoted strings, `#`, `//` and
  `/* */` comments. A `.include` macro is reported, not followed.
"""

import posixpath
import re
from dataclasses import dataclass, field

from adopt.sources import Missing, Source

MAX_INCLUDE_DEPTH = 10


@dataclass(frozen=True)
class Where:
    path: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass
class Problem:
    where: Where
    message: str


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", errors="replace").splitlines()


def _joined(lines: list[str]) -> list[tuple[int, str]]:
    """(first line number, text) with backslash continuations joined."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, line in enumerate(lines, 1):
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append((start, pending + line))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


# --- Dovecot ------------------------------------------------------------------------------------


@dataclass
class Section:
    name: str
    argument: str
    where: Where
    settings: dict[str, tuple[str, Where]] = field(default_factory=dict)
    children: list["Section"] = field(default_factory=list)

    def get(self, key: str, default: str = "") -> str:
        return self.settings.get(key, (default, None))[0]

    def sections(self, name: str) -> list["Section"]:
        return [child for child in self.children if child.name == name]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def dovecot_config(source: Source, path: str) -> tuple[Section, list[Problem]]:
    root = Section("", "", Where(path))
    problems: list[Problem] = []
    stack = [root]
    _dovecot_file(source, path, stack, problems, depth=0)
    if len(stack) > 1:
        problems.append(Problem(stack[-1].where, f"the section “{stack[-1].name}” is never closed"))
    return root, problems


def _dovecot_file(source: Source, path: str, stack: list[Section], problems: list[Problem], depth: int) -> None:
    data = source.read(path)
    for number, text in _joined(_lines(data)):
        where = Where(path, number)
        line = text.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("!include_try ", "!include ")):
            optional = line.startswith("!include_try")
            pattern = _unquote(line.split(None, 1)[1])
            if not pattern.startswith("/"):
                pattern = posixpath.join(posixpath.dirname(path), pattern)
            names = source.glob(pattern) if any(c in pattern for c in "*?[") else [pattern]
            if depth >= MAX_INCLUDE_DEPTH:
                problems.append(Problem(where, f"includes nested more than {MAX_INCLUDE_DEPTH} deep"))
                continue
            for name in names:
                try:
                    _dovecot_file(source, name, stack, problems, depth + 1)
                except Missing as e:
                    if not optional:
                        problems.append(Problem(where, f"the included file cannot be read: {e}"))
            if not names and not optional and "*" not in pattern:
                problems.append(Problem(where, f"the included file {pattern} is missing"))
            continue
        if line == "}":
            if len(stack) == 1:
                problems.append(Problem(where, "a “}” closes no section"))
            else:
                stack.pop()
            continue
        if line.endswith("{") and "=" not in line.split("{")[0]:
            words = line[:-1].split(None, 1)
            section = Section(words[0], _unquote(words[1]) if len(words) > 1 else "", where)
            stack[-1].children.append(section)
            stack.append(section)
            continue
        key, equals, value = line.partition("=")
        if not equals:
            problems.append(Problem(where, f"cannot read “{line[:80]}”"))
            continue
        stack[-1].settings[key.strip()] = (_unquote(value), where)


# --- OpenSMTPD ------------------------------------------------------------------------------------

_SMTPD_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|<[^>\s]*>|[{},=]|[^\s{},="<]+')


@dataclass
class Statement:
    words: list[str]
    where: Where


def smtpd_statements(source: Source, path: str, problems: list[Problem], depth: int = 0) -> list[Statement]:
    """Every statement of smtpd.conf (includes followed), macros replaced, quotes kept on strings."""
    statements: list[Statement] = []
    macros: dict[str, str] = {}
    pending: list[str] = []
    start = 0
    for number, text in _joined(_lines(source.read(path))):
        line = _strip_comment(text).strip()
        if not line:
            continue
        if not pending:
            start = number
        pending += _SMTPD_TOKEN.findall(line)
        if pending.count("{") > pending.count("}"):
            continue  # an inline table goes on over the next lines
        words, pending = [macros.get(w[1:], w) if w.startswith("$") else w for w in pending], []
        where = Where(path, start)
        if len(words) >= 3 and words[1] == "=" and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", words[0]):
            macros[words[0]] = _unquote(" ".join(words[2:]))
        elif words[0] == "include" and len(words) == 2:
            if depth >= MAX_INCLUDE_DEPTH:
                problems.append(Problem(where, f"includes nested more than {MAX_INCLUDE_DEPTH} deep"))
                continue
            try:
                statements += smtpd_statements(source, _unquote(words[1]), problems, depth + 1)
            except Missing as e:
                problems.append(Problem(where, f"the included file cannot be read: {e}"))
        else:
            statements.append(Statement(words, where))
    if pending:
        problems.append(Problem(Where(path, start), "an inline table is never closed with “}”"))
    return statements


def _strip_comment(line: str) -> str:
    quoted = False
    for i, char in enumerate(line):
        if char == '"' and (i == 0 or line[i - 1] != "\\"):
            quoted = not quoted
        elif char == "#" and not quoted:
            return line[:i]
    return line


@dataclass
class Entry:
    key: str  # as written
    value: str  # "" in a list
    where: Where


@dataclass
class Table:
    kind: str  # "list" or "mapping"
    entries: list[Entry]

    def mapping(self) -> dict[str, Entry]:
        """Keys in lower case, the later of two equal keys winning, as smtpd looks them up."""
        return {entry.key.lower(): entry for entry in self.entries}


def table_file(data: bytes, path: str) -> tuple[Table, list[Problem]]:
    kind, entries, problems = "", [], []
    for number, raw in enumerate(_lines(data), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if not kind and line[1:].strip() == "@list":
                kind = "list"
            continue
        if line.startswith("["):
            end = line.find("]")
            if end < 0:
                problems.append(Problem(Where(path, number), "an entry opens “[” and never closes it"))
                continue
            key, rest = line[: end + 1], line[end + 1 :]
        else:
            separator = re.search(r"[ \t:]", line)
            cut = separator.start() if separator else len(line)
            key, rest = line[:cut], line[cut:]
        kind = kind or ("mapping" if rest else "list")
        value = rest[1:].lstrip(" \t") if rest else ""
        if kind == "mapping" and not value:
            problems.append(Problem(Where(path, number), f"“{key[:80]}” has no value"))
            continue
        entries.append(Entry(key, value if kind == "mapping" else "", Where(path, number)))
    return Table(kind or "mapping", entries), problems


def inline_table(words: list[str], where: Where) -> Table:
    """`{ a, b }` or `{ key = value, … }` from a table statement."""
    inner = [w for w in words[words.index("{") + 1 : len(words) - 1 - words[::-1].index("}")] if w != ","]
    if "=" in inner:
        entries = [
            Entry(_unquote(inner[i]), _unquote(inner[i + 2]), where)
            for i in range(0, len(inner) - 2, 3)
            if inner[i + 1] == "="
        ]
        return Table("mapping", entries)
    return Table("list", [Entry(_unquote(w), "", where) for w in inner])


# --- Dovecot's passwd-file ---------------------------------------------------------------------------


@dataclass
class PasswdLine:
    user: str
    password: str
    uid: str
    gid: str
    gecos: str
    home: str
    extra: dict[str, str]
    where: Where


def passwd_file(data: bytes, path: str) -> tuple[list[PasswdLine], list[Problem]]:
    lines, problems = [], []
    for number, raw in enumerate(_lines(data), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = raw.split(":", 7)
        fields += [""] * (8 - len(fields))
        user, password, uid, gid, gecos, home, _shell, extra_text = fields
        extra, where = {}, Where(path, number)
        for word in extra_text.split():
            key, equals, value = word.partition("=")
            extra[key] = value if equals else ""
        lines.append(PasswdLine(user, password, uid, gid, gecos, home, extra, where))
    return lines, problems


# --- Rspamd's UCL -------------------------------------------------------------------------------------

_UCL_TOKEN = re.compile(
    r"""(?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)|(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
    r"""|(?P<punct>[{}\[\]=;,:])|(?P<word>[^\s{}\[\]=;,:"'#]+)|(?P<space>\s+)""",
    re.S,
)


@dataclass
class Value:
    """A UCL value: text, an object (pairs in file order, a key may repeat) or an array."""

    where: Where
    text: str | None = None
    pairs: list[tuple[str, "Value"]] | None = None
    items: list["Value"] | None = None

    def get(self, key: str) -> "Value | None":
        found = [value for name, value in self.pairs or [] if name == key]
        return found[-1] if found else None

    def string(self, key: str, default: str = "") -> str:
        value = self.get(key)
        return value.text if value is not None and value.text is not None else default


class UclError(ValueError):
    def __init__(self, where: Where, message: str) -> None:
        super().__init__(message)
        self.where = where


def ucl(data: bytes, path: str) -> Value:
    text = data.decode("utf-8", errors="replace")
    tokens: list[tuple[str, str, Where]] = []
    line, position = 1, 0
    while position < len(text):
        match = _UCL_TOKEN.match(text, position)
        if match is None:
            raise UclError(Where(path, line), f"cannot read “{text[position : position + 20]}”")
        kind = match.lastgroup
        if kind in ("string", "punct", "word"):
            tokens.append((kind, match.group(), Where(path, line)))
        line += match.group().count("\n")
        position = match.end()
    parser = _UclParser(tokens, path)
    value = parser.object(Where(path, 1), top=True)
    return value


MAX_UCL_DEPTH = 32


class _UclParser:
    def __init__(self, tokens: list[tuple[str, str, Where]], path: str) -> None:
        self.tokens, self.index, self.path = tokens, 0, path
        self.depth = 0

    def nested(self, where: Where) -> None:
        self.depth += 1
        if self.depth > MAX_UCL_DEPTH:
            raise UclError(where, f"values are nested more than {MAX_UCL_DEPTH} deep")

    def peek(self) -> tuple[str, str, Where] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str, Where]:
        token = self.peek()
        if token is None:
            raise UclError(Where(self.path), "the file ends in the middle of a value")
        self.index += 1
        return token

    def object(self, where: Where, top: bool = False) -> Value:
        self.nested(where)
        pairs: list[tuple[str, Value]] = []
        while (token := self.peek()) is not None:
            kind, text, at = token
            if text == "}" and kind == "punct":
                if top:
                    raise UclError(at, "a “}” closes nothing")
                self.index += 1
                self.depth -= 1
                return Value(where, pairs=pairs)
            if kind == "punct" and text in ";,":
                self.index += 1
                continue
            if kind == "punct":
                raise UclError(at, f"expected a key, found “{text}”")
            self.index += 1
            key = _ucl_string(kind, text)
            if key.startswith("."):
                raise UclError(at, f"the macro {key} is not followed here: put the keys in this file")
            pairs.append((key, self.value_after_key(at)))
        if not top:
            raise UclError(where, "a “{” is never closed")
        return Value(where, pairs=pairs)

    def value_after_key(self, at: Where) -> Value:
        kind, text, where = self.take()
        if kind == "punct" and text in "=:":
            kind, text, where = self.take()
        if kind == "punct" and text == "{":
            return self.object(where)
        if kind == "punct" and text == "[":
            return self.array(where)
        if kind == "punct":
            raise UclError(where, f"expected a value, found “{text}”")
        following = self.peek()
        if following is not None and following[0] == "punct" and following[1] == "{":
            # `key name { … }` is `key { name { … } }`
            return Value(where, pairs=[(_ucl_string(kind, text), self.value_after_key(where))])
        return Value(where, text=_ucl_string(kind, text))

    def array(self, where: Where) -> Value:
        self.nested(where)
        items: list[Value] = []
        while True:
            kind, text, at = self.take()
            if kind == "punct" and text == "]":
                self.depth -= 1
                return Value(where, items=items)
            if kind == "punct" and text == ",":
                continue
            if kind == "punct" and text == "{":
                items.append(self.object(at))
            elif kind == "punct" and text == "[":
                items.append(self.array(at))
            elif kind == "punct":
                raise UclError(at, f"expected a value, found “{text}”")
            else:
                items.append(Value(at, text=_ucl_string(kind, text)))


def _ucl_string(kind: str, text: str) -> str:
    if kind != "string":
        return text
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)
