"""What every operation shares in the OpenAPI document: its parameters and its errors."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from api.problems import CONTENT_TYPE, Problem

SEARCH = OpenApiParameter("q", str, description="Search: names that start with this, as the panel's search box.")
PAGE = OpenApiParameter("page", int, description="Page number, from 1; PAGE_SIZE rows a page.")
_REASONS = {
    400: "Refused: the panel's own message, and each field's under `errors`.",
    401: "No token, or one that is not valid, has expired or whose admin is disabled.",
    403: "The token is read-only, or only a superadmin may do this.",
    404: "No such object among those the token may see.",
    409: "Another apply is running.",
    429: "Too many requests with this token: wait for Retry-After seconds.",
}


def operation(operation_id: str, *, ok: dict, errors: tuple[int, ...] = (), methods: list[str] | None = None, **kwargs):
    """extend_schema with the errors every call can get (401, 429) and those named."""
    responses = dict(ok)
    for status in sorted({401, 429, *errors}):
        responses[(status, CONTENT_TYPE)] = OpenApiResponse(Problem, description=_REASONS[status])
    return extend_schema(operation_id=operation_id, responses=responses, methods=methods, **kwargs)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI document how api.auth.TokenAuthentication reads a token."""

    target_class = "api.auth.TokenAuthentication"
    name = "token"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token made on the panel's API tokens page: `Authorization: Bearer mat_…`.",
        }
