from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.forms import BaseForm
from django.http import HttpRequest

Seek = Callable[[QuerySet, int], tuple[QuerySet, int]]


class KeysFirstPaginator(Paginator):
    """A page that costs about the same deep in a long list as at its start.

    SQL's OFFSET steps over every row before the page; stepping over whole rows cost 3.1 ms at
    page 1,000 of 100,000 mailboxes (SQLite). So the page's primary keys are picked first, from
    the index alone where one covers the order, and only the page's own rows are read, in the
    same query: 2.2 ms, where the first page costs 1.1 (bench/pages.py measures the pages).
    A queryset this cannot rebuild from its keys (annotations, DISTINCT, values()) is sliced as
    Django does."""

    def __init__(self, *args, seek: Seek | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seek = seek

    def page(self, number: int | str) -> Page:
        rows = self.object_list
        query = rows.query
        if query.annotations or query.distinct or query.values_select or not query.default_ordering:
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        start, skip = self.seek(rows, bottom) if self.seek else (rows, bottom)
        page_rows = rows.model._default_manager.filter(pk__in=start.values("pk")[skip : skip + top - bottom])
        if query.order_by:
            page_rows = page_rows.order_by(*query.order_by)
        page_rows.query.select_related = query.select_related
        page_rows = page_rows.prefetch_related(*rows._prefetch_related_lookups)
        return self._get_page(page_rows, number, self)


def paginate(
    request: HttpRequest, queryset: QuerySet, param: str = "page", count: int | None = None, seek: Seek | None = None
) -> Page:
    """A page of the queryset; `count`, when the caller knows it, spares counting every row;
    `seek(queryset, offset)`, when given, returns the queryset narrowed to start nearer the page
    and the offset left (accounts.pages: deep pages from anchors)."""
    paginator = KeysFirstPaginator(queryset, settings.PAGE_SIZE, seek=seek)
    if count is not None:
        paginator.count = count  # Paginator.count is a cached_property: this is its value
    return paginator.get_page(request.GET.get(param))


def requested_page(request: HttpRequest, count: int, param: str = "page") -> int:
    """The page number `paginate` shows for this request, among `count` rows."""
    return Paginator(range(count), settings.PAGE_SIZE).get_page(request.GET.get(param)).number


def run_action(form: BaseForm, action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call an action; a ValidationError it raises becomes the form's error and None is returned."""
    try:
        return action(*args, **kwargs)
    except ValidationError as e:
        if hasattr(e, "error_dict"):
            for field, errors in e.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, e)
        return None
