"""Errors as RFC 9457 problem details: `application/problem+json` with type, title, status and
detail, and for refused input an `errors` member naming each field's messages, worded as the
panel's forms and actions word them (they are the same forms and actions).

    {"type": "about:blank", "title": "Bad Request", "status": 400,
     "detail": "alice@example.org is already a mailbox.",
     "errors": {"local_part": ["alice@example.org is already a mailbox."]}}

Messages not about one field are in `detail` only.
"""

from http import HTTPStatus

from django.core.exceptions import ValidationError
from django.forms import BaseForm
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

CONTENT_TYPE = "application/problem+json"
NON_FIELD = ("__all__", "non_field_errors")


class Problem(serializers.Serializer):
    """What every error answer holds (RFC 9457 §3.1, with the `errors` extension member)."""

    type = serializers.CharField(help_text="Always about:blank: the status code says what kind of problem it is.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For refused input: the messages about each field, by the field's name in the request.",
    )


def problem(status: int, detail: str, errors: dict[str, list[str]] | None = None, headers=None) -> Response:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return Response(body, status=status, headers=headers, content_type=CONTENT_TYPE)


def _messages(detail) -> list[str]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _messages(value)]
    if isinstance(detail, list):
        return [m for value in detail for m in _messages(value)]
    return [str(detail)]


def refused(errors: dict[str, list[str]]) -> exceptions.ValidationError:
    """A 400 carrying {field: [messages]}; "__all__" holds the messages about no one field."""
    return exceptions.ValidationError(errors)


def form_errors(form: BaseForm, names: dict[str, str] | None = None) -> exceptions.ValidationError:
    """The form's errors under the API's field names (`names` maps form fields that are named
    otherwise in the API, such as password1 → password)."""
    names = names or {}
    errors: dict[str, list[str]] = {}
    for field, messages in form.errors.items():
        key = names.get(field, field)
        errors.setdefault(key, [])
        errors[key] += [m for m in messages if m not in errors[key]]
    return refused(errors)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ValidationError):  # an action's refusal that no form caught
        exc = refused(exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500, logged
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        details = data if isinstance(data, dict) else {"__all__": data}
        errors = {k: _messages(v) for k, v in details.items() if k not in NON_FIELD}
        detail = " ".join(_messages(details))
    else:
        errors, detail = None, " ".join(_messages(data.get("detail", data) if isinstance(data, dict) else data))
    kept = {name: response[name] for name in ("WWW-Authenticate", "Retry-After") if response.has_header(name)}
    return problem(response.status_code, detail, errors, headers=kept)
