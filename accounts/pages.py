"""Deep pages of a domain's mailbox list, at the cost of its first page.

SQL's OFFSET steps over every row before a page: page 1,000 of 100,000 mailboxes walked 50,000
index entries, 1.2-1.5 ms, where the first page's rows cost 0.2. So each process keeps, per
domain and order, the key of every ANCHOR_EVERY-th mailbox (one walk of the index), and a deep
page starts from the anchor before it: "local_part >= anchor", then an OFFSET below
ANCHOR_EVERY. The anchors hold while the domain's MailboxOrderVersion is the one they were
taken at; database triggers move it on every insert, delete, or change of a local part or a
fill, so a page is always the rows an OFFSET would give. On SQLite only: see
accounts.ordertriggers for why PostgreSQL walks the index instead.
"""

import threading
from collections import OrderedDict

from django.conf import settings
from django.core.paginator import Page
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from accounts.models import Mailbox, MailboxOrderVersion
from core.views import paginate, requested_page
from domains.models import Domain

ANCHOR_EVERY = 1000
KEPT = 64  # (domain, order) pairs one process keeps anchors for
_anchors: OrderedDict[tuple[int, bool], tuple[int, list[tuple]]] = OrderedDict()
_lock = threading.Lock()


def mailbox_page(request: HttpRequest, domain: Domain, query: str, fullest: bool, param: str = "page") -> Page:
    """The page of `domain`'s mailboxes that the domain page and the API list show: searched by
    the prefix `query`, by name or the fullest first. Without a search, the domain's own count
    numbers the pages (no COUNT over 100,000 rows) and a deep page starts from an anchor."""
    rows = Mailbox.objects.filter(domain=domain).search(query)
    found = rows.count() if query else domain.mailbox_count
    if fullest:
        number = requested_page(request, found, param)
        rows = rows.fullest_first(found, domain.mailbox_count, number, settings.PAGE_SIZE)
    return paginate(request, rows, param, found, seek=None if query else mailbox_seek(domain, fullest))


def mailbox_seek(domain: Domain, fullest: bool):
    """For paginate(seek=...): the unsearched list of `domain` (sorted fullest first or by name),
    narrowed to start at the anchor at or before `offset`, and what is left of the offset.
    None on PostgreSQL, which keeps no order versions (accounts.ordertriggers says why)."""
    if connection.vendor != "sqlite":
        return None

    def seek(rows: QuerySet, offset: int) -> tuple[QuerySet, int]:
        # The version is read on every page, deep or not, so that every page of the list takes
        # the same queries (where a searched list counts its rows instead).
        version = MailboxOrderVersion.objects.filter(domain=domain.pk).values_list("version", flat=True).first()
        if offset < ANCHOR_EVERY:
            return rows, offset
        anchors = _anchors_of(domain, fullest, version or 0)
        index = min(offset // ANCHOR_EVERY, len(anchors)) - 1
        if index < 0:
            return rows, offset
        rest = offset - (index + 1) * ANCHOR_EVERY
        if fullest:
            fill, local_part = anchors[index]
            # (fill descending, local part ascending) at or after the anchor, as the index
            # mailbox_fullest_first reads it: a range on fill, the tie broken by the name.
            rows = rows.filter(fill_permille__lte=fill).filter(
                Q(fill_permille__lt=fill) | Q(local_part__gte=local_part)
            )
        else:
            rows = rows.filter(local_part__gte=anchors[index][0])
        return rows, rest

    return seek


def _anchors_of(domain: Domain, fullest: bool, version: int) -> list[tuple]:
    """The sort keys at positions ANCHOR_EVERY, 2 × ANCHOR_EVERY, ... of the domain's list."""
    key = (domain.pk, fullest)
    with _lock:
        kept = _anchors.get(key)
        if kept and kept[0] == version:
            _anchors.move_to_end(key)
            return kept[1]
    fields = ("fill_permille", "local_part") if fullest else ("local_part",)
    order = ("-fill_permille", "local_part") if fullest else ("local_part",)
    rows = Mailbox.objects.filter(domain=domain).order_by(*order).values_list(*fields)
    anchors = [
        row for position, row in enumerate(rows.iterator(chunk_size=5000)) if position and not position % ANCHOR_EVERY
    ]
    if connection.in_atomic_block:
        # Rows this transaction wrote may yet be rolled back, and the version they moved
        # with them: then the same number would come to stand for other rows.
        return anchors
    with _lock:  # threads of one process share the anchors
        _anchors[key] = (version, anchors)
        while len(_anchors) > KEPT:
            _anchors.popitem(last=False)
    return anchors
