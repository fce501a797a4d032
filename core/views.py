from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.forms import BaseForm
from django.http import HttpRequest


def paginate(request: HttpRequest, queryset: QuerySet, param: str = "page", count: int | None = None) -> Page:
    """A page of the queryset; `count`, when the caller knows it, spares counting every row."""
    paginator = Paginator(queryset, settings.PAGE_SIZE)
    if count is not None:
        paginator.count = count  # Paginator.count is a cached_property: this is its value
    return paginator.get_page(request.GET.get(param))


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
