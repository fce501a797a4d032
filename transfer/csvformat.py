"""The CSV format of the import and the export: one file, one line per domain, mailbox or alias.

    type,address,name,quota,active,password,destinations
    domain,example.org,,2G,yes,,
    domain,example.net,,unlimited,yes,,example.org
    mailbox,alice@example.org,Alice Liddell,5G,yes,$y$j9T$…,
    alias,info@example.org,,,yes,,alice@example.org bob@example.com
    alias,*@example.org,,,no,,alice@example.org

A domain's quota is its default for new mailboxes and its destination the domain it delivers
as (an alias domain); `*@domain` is the catch-all. The export writes exactly this, so a file
exported here imports back unchanged.

Reading refuses what it cannot read for certain, with the reason, and guesses nothing: the file
must be UTF-8 (a byte-order mark is allowed, since spreadsheets write one), at most MAX_BYTES and
MAX_LINES; fields are separated by commas, or by semicolons when the first line has no comma (as
spreadsheets in many European locales save). A column may be left out entirely: what it sets is
then left as it is.

Writing neutralises formulas (OWASP, "CSV Injection"): a cell starting with = + - @, a tab, a
line break or NUL gets a leading apostrophe, so a spreadsheet shows it as text instead of
running it. Reading takes that apostrophe off again (only in front of those characters):

    >>> neutralise("=HYPERLINK(\\"http://evil\\")")
    '\\'=HYPERLINK("http://evil")'
    >>> unneutralise("'=HYPERLINK(\\"http://evil\\")") == '=HYPERLINK("http://evil")'
    True
    >>> unneutralise("'quoted")
    "'quoted"
"""

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

COLUMNS = ["type", "address", "name", "quota", "active", "password", "destinations"]
REQUIRED = ["type", "address"]
KINDS = ["domain", "mailbox", "alias"]

MAX_BYTES = 8 * 1024 * 1024
MAX_LINES = 20_000
# Longest cell: an alias may list many destinations; everything else is short.
MAX_CELL = {"destinations": 65_536}
MAX_OTHER_CELL = 4096

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")

_WIDE_BOMS = [
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
]
SAVE_AS = "Save it as “CSV UTF-8” (LibreOffice: character set “Unicode (UTF-8)”) and upload it again."


class FileError(ValueError):
    """The file as a whole cannot be read: nothing in it is looked at further."""


@dataclass
class Row:
    number: int  # the line of the file the row starts on
    cells: dict[str, str]  # only the columns the file has


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def unneutralise(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def decode(data: bytes) -> str:
    """The file's text, or FileError saying why it is not UTF-8 text."""
    if len(data) > MAX_BYTES:
        raise FileError(
            f"The file has {len(data) / 1e6:.1f} MB; the most is {MAX_BYTES / 1e6:.1f} MB. Split it into smaller files."
        )
    for bom, name in _WIDE_BOMS:
        if data.startswith(bom):
            raise FileError(f"The file is {name} text. {SAVE_AS}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise FileError(
            f"The file is not UTF-8 text: line {line} has the byte 0x{data[e.start]:02X}, which UTF-8 does not "
            f"allow there (a file saved as Latin-1 or Windows-1252?). {SAVE_AS}"
        ) from None
    if text.count("\0") > len(text) // 4:
        raise FileError(f"The file has a NUL byte between most characters: UTF-16 text without its mark? {SAVE_AS}")
    return text


def read(data: bytes) -> list[Row]:
    """The file's rows; FileError if the file as a whole cannot be read. Blank lines are skipped;
    a cell's problems (a NUL byte, a wrong value) are for the caller to report with its line."""
    text = decode(data)
    first = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[Row] = []
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise FileError(f"Line {start} cannot be read as CSV ({e}).") from None
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = _header(cells)
            continue
        if len(rows) == MAX_LINES:
            raise FileError(f"The file has more than {MAX_LINES:,} lines. Split it into smaller files.")
        rows.append(_row(start, header, cells))
    if header is None:
        raise FileError(f"The file is empty. Its first line names the columns: {','.join(COLUMNS)}.")
    return rows


def _header(cells: list[str]) -> list[str]:
    names = [cell.strip().lower() for cell in cells]
    unknown = [name for name in names if name not in COLUMNS]
    missing = [name for name in REQUIRED if name not in names]
    repeated = sorted({name for name in names if names.count(name) > 1})
    problems = []
    if unknown:
        problems.append("unknown column " + ", ".join(f"“{_shorten(n)}”" for n in unknown[:5]))
    if missing:
        problems.append("no column " + " or ".join(f"“{n}”" for n in missing))
    if repeated:
        problems.append("the column " + ", ".join(f"“{n}”" for n in repeated) + " twice")
    if problems:
        raise FileError(
            f"The first line must name the columns ({'; '.join(problems)}): {','.join(COLUMNS)}. "
            "Only type and address are required; a column left out changes nothing."
        )
    return names


def _row(number: int, header: list[str], cells: list[str]) -> Row:
    extra = cells[len(header) :]
    values = dict(zip(header, cells, strict=False))
    if any(cell.strip() for cell in extra):
        # Kept for the caller to report with the line (every error at once).
        values["_extra"] = str(len(cells))
    return Row(number, {name: unneutralise(value) for name, value in values.items()})


def cell_too_long(name: str, value: str) -> str:
    """The error for a cell longer than its column takes, or ""."""
    limit = MAX_CELL.get(name, MAX_OTHER_CELL)
    return f"the {name} cell has {len(value):,} characters; the most is {limit:,}" if len(value) > limit else ""


def _shorten(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def write(rows: Iterable[list[str]]) -> Iterator[str]:
    """The file, piece by piece (a header, then one string per row), every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in _with_header(rows):
        writer.writerow([neutralise(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _with_header(rows: Iterable[list[str]]) -> Iterator[list[str]]:
    yield COLUMNS
    yield from rows
