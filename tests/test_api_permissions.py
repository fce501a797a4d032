"""Every API route and method, tried with every role's token. A new route or method must be
added to MATRIX or this test fails (as tests/test_permissions.py does for the pages).

Each request runs in a transaction rolled back afterwards, so a deletion tried early leaves the
world whole for the next route; the body each write sends is one its action accepts, so a 2xx
shows the action really ran for that role."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import URLPattern, reverse
from django.utils import timezone

from accounts import actions
from audit.log import COMMAND_LINE
from domains.actions import create_dkim_key
from tests.helpers import mailbox_client
from tests.test_api_helpers import ApiClient, token_for
from tests.test_permissions import named_urls

ROLES = [
    "anonymous",  # no token
    "mailbox_user",  # a signed-in mailbox user's session, no token
    "expired",  # the domain admin's token, expired
    "disabled",  # a token of an admin disabled since
    "read_only",  # the domain admin's read-only token
    "other_domain_admin",
    "some_domains_superadmin",  # a superadmin's token for other.example only
    "domain_admin",
    "superadmin",
]
NO = [401, 401, 401, 401]  # the four roles without a working token

# (name, method): (request body, expected status per role after the first four)
MATRIX = {
    ("api_token", "GET"): (None, [200, 200, 200, 200, 200]),
    ("api_config", "GET"): (None, [200, 200, 200, 200, 200]),
    ("api_apply", "POST"): ({}, [403, 403, 403, 403, 200]),
    ("api_audit", "GET"): (None, [200, 200, 200, 200, 200]),
    ("api_domains", "GET"): (None, [200, 200, 200, 200, 200]),
    ("api_domains", "POST"): ({"name": "new.example"}, [403, 403, 403, 403, 201]),
    ("api_domain", "GET"): (None, [200, 404, 404, 200, 200]),
    ("api_domain", "PATCH"): ({"default_quota": "1G"}, [403, 403, 403, 403, 200]),
    ("api_domain", "DELETE"): (None, [403, 403, 403, 403, 204]),
    ("api_mailboxes", "GET"): (None, [200, 404, 404, 200, 200]),
    ("api_mailboxes", "POST"): ({"local_part": "bob", "password": "a fine mail password"}, [403, 404, 404, 201, 201]),
    ("api_mailbox", "GET"): (None, [200, 404, 404, 200, 200]),
    ("api_mailbox", "PATCH"): ({"display_name": "Alice L."}, [403, 404, 404, 200, 200]),
    ("api_mailbox", "DELETE"): (None, [403, 404, 404, 204, 204]),
    ("api_aliases", "GET"): (None, [200, 404, 404, 200, 200]),
    ("api_aliases", "POST"): ({"local_part": "", "destinations": ["alice@example.org"]}, [403, 404, 404, 201, 201]),
    ("api_alias", "GET"): (None, [200, 404, 404, 200, 200]),
    ("api_alias", "PATCH"): ({"active": False}, [403, 404, 404, 200, 200]),
    ("api_alias", "DELETE"): (None, [403, 404, 404, 204, 204]),
    ("api_dkim_keys", "GET"): (None, [200, 404, 404, 200, 200]),
    ("api_dkim_keys", "POST"): ({"kind": "ed25519"}, [403, 404, 404, 201, 201]),
    ("api_dkim_key", "DELETE"): (None, [403, 404, 404, 204, 204]),  # a pending key is forgotten
    ("api_dkim_activate", "POST"): ({"unpublished_ok": True}, [403, 404, 404, 200, 200]),
    ("api_policy", "GET"): (None, [200, 404, 404, 200, 200]),
    ("api_policy", "PATCH"): ({"dmarc_p": "quarantine"}, [403, 404, 404, 200, 200]),
    ("api_dns", "GET"): (None, [200, 404, 404, 200, 200]),
    ("api_dns_check", "POST"): ({}, [403, 404, 404, 200, 200]),
    ("api_dns_check_one", "POST"): ({}, [403, 404, 404, 200, 200]),
}
METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]


def api_routes() -> list[tuple[URLPattern, str]]:
    """(pattern, method) for every named API route and each method its view answers."""
    routes = []
    for pattern in named_urls():
        view = getattr(pattern.callback, "cls", None)
        if str(pattern.pattern).startswith("api/v1/") and pattern.name != "api_schema" and view is not None:
            routes += [(pattern, method) for method in METHODS if hasattr(view, method.lower())]
    return routes


def test_every_api_route_and_method_is_in_the_matrix():
    assert sorted((p.name, m) for p, m in api_routes()) == sorted(MATRIX)


@pytest.fixture
def world(domain, other_domain, mailbox, superadmin, domain_admin, other_domain_admin):
    alias = actions.create_alias(domain, "info", ["alice@example.org"], actor=COMMAND_LINE)
    key = create_dkim_key(domain, actor=COMMAND_LINE, selector="spare")
    disabled = actions.create_admin("dana", "x", actor=COMMAND_LINE, superadmin=False, domains=[domain])
    tokens = {
        "expired": token_for(domain_admin, name="old", expires_at=timezone.now() - timedelta(seconds=1)),
        "disabled": token_for(disabled),
        "read_only": token_for(domain_admin, name="reader", writes=False),
        "other_domain_admin": token_for(other_domain_admin),
        "some_domains_superadmin": token_for(superadmin, name="other only", domains=[other_domain]),
        "domain_admin": token_for(domain_admin),
        "superadmin": token_for(superadmin),
    }
    actions.update_admin(disabled, actor=COMMAND_LINE, superadmin=False, domains=[domain], active=False)
    arguments = {"name": domain.name, "local_part": mailbox.local_part, "alias_id": alias.pk, "key_id": key.pk}
    return {"tokens": tokens, "arguments": arguments | {"index": 0}}


def client_as(role: str, world: dict):
    if role == "anonymous":
        return ApiClient()
    if role == "mailbox_user":
        client = mailbox_client("alice@example.org")
        client.send = ApiClient.send.__get__(client)
        return client
    return ApiClient(world["tokens"][role])


@pytest.mark.parametrize("role", ROLES)
def test_each_api_route_answers_each_role_as_the_matrix_says(role, world):
    client = client_as(role, world)
    mismatches = []
    for pattern, method in api_routes():
        data, outcomes = MATRIX[(pattern.name, method)]
        expected = (NO + outcomes)[ROLES.index(role)]
        url = reverse(pattern.name, kwargs={key: world["arguments"][key] for key in pattern.pattern.converters})
        with transaction.atomic():
            response = client.send(method, url, data)
            transaction.set_rollback(True)
        if response.status_code != expected:
            mismatches.append(
                f"{method} {url}: expected {expected}, got {response.status_code} {response.content[:200]}"
            )
        if response.status_code >= 400:
            assert response["Content-Type"] == "application/problem+json", (method, url)
    assert not mismatches, "\n".join(mismatches)
