"""Between a JSON request and the panel's own forms and actions, and back to JSON.

A write goes as the page's form would send it: the request's fields (renamed where the API
names them otherwise) over the object's current values, so a PATCH that names one field
changes only that one. The form validates and normalises it, the action does the change, and
either one's refusal comes back as problem details in their own words.
"""

from collections.abc import Callable
from typing import Any

from django.core.paginator import Page
from django.db.models import QuerySet
from django.forms import BaseForm
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.problems import form_errors
from core.views import paginate, run_action


def form_data(current: dict[str, Any], given: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, Any]:
    """`current` (by form field) with `given` (by API field, `names` mapping API → form) over it."""
    names = names or {}
    return current | {names.get(field, field): value for field, value in given.items()}


def body(request: Request, shape: type[serializers.Serializer]) -> dict[str, Any]:
    """The request's JSON as `shape` types it (only what the client sent, defaults included)."""
    typed = shape(data=request.data)
    typed.is_valid(raise_exception=True)
    return dict(typed.validated_data)


def _api_names(names: dict[str, str] | None) -> dict[str, str]:
    return {form_field: api_field for api_field, form_field in (names or {}).items()}


def valid(form: BaseForm, names: dict[str, str] | None = None) -> dict[str, Any]:
    """The form's cleaned data, or a 400 with its errors under the API's names (`names`: API → form)."""
    if not form.is_valid():
        raise form_errors(form, _api_names(names))
    return form.cleaned_data


def act(form: BaseForm, names: dict[str, str] | None, action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the action as the page does (core.views.run_action); its refusal is a 400."""
    result = run_action(form, action, *args, **kwargs)
    if form.errors:
        raise form_errors(form, _api_names(names))
    return result


def search(request: Request) -> str:
    return request.query_params.get("q", "")


def page(
    request: Request,
    rows: QuerySet | Page,
    out: type[serializers.Serializer],
    prepare: Callable[[Any], None] | None = None,
) -> Response:
    """One page of `rows` as the panel's lists cut it (?page=N, PAGE_SIZE rows; a page past the
    end is the last), or the page a caller has cut already (accounts.pages.mailbox_page).
    `prepare` sets what each row needs without a query of its own."""
    cut = rows if isinstance(rows, Page) else paginate(request, rows)
    items = list(cut.object_list)
    for item in items if prepare else ():
        prepare(item)
    return Response(
        {
            "count": cut.paginator.count,
            "page": cut.number,
            "pages": cut.paginator.num_pages,
            "next": cut.next_page_number() if cut.has_next() else None,
            "previous": cut.previous_page_number() if cut.has_previous() else None,
            "results": out(items, many=True).data,
        }
    )
