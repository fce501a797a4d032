"""The OpenAPI document: generated from the code, served, valid OpenAPI 3, and complete enough
that a client generated from it (openapi-python-client, at test time) can drive the API."""

import importlib
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from accounts.models import Mailbox
from audit.models import AuditEntry
from tests.test_api_helpers import token_for
from tests.test_api_permissions import api_routes

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


def test_the_document_is_served_without_a_token_and_is_valid_openapi(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)  # raises on anything OpenAPI 3.0 does not allow
    assert document["components"]["securitySchemes"]["token"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["token"]["description"],
    }


def test_every_route_and_method_is_in_the_document(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for pattern, method in api_routes():
        path = "/" + _openapi_path(str(pattern.pattern))
        assert method.lower() in paths[path], (path, method)
        responses = paths[path][method.lower()]["responses"]
        assert "application/problem+json" in responses["401"]["content"], (path, method)


def _openapi_path(route: str) -> str:
    """domains/<domain:name>/ → domains/{name}/"""
    while "<" in route:
        start, end = route.index("<"), route.index(">")
        route = route[:start] + "{" + route[start + 1 : end].split(":")[-1] + "}" + route[end + 1 :]
    return route


@pytest.fixture
def generated_client(tmp_path, live_server):
    """A Python client generated from the served document, imported from a temporary folder."""
    document = tmp_path / "openapi.json"
    with urllib.request.urlopen(f"{live_server.url}/api/v1/openapi.json") as answer:
        document.write_bytes(answer.read())
    config = tmp_path / "generator.yaml"
    config.write_text(
        "post_hooks: []\npackage_name_override: mailadmin_client\nproject_name_override: mailadmin_client\n"
    )
    subprocess.run(
        [GENERATOR, "generate", "--path", document, "--output-path", tmp_path / "mailadmin_client"]
        + ["--meta", "none", "--config", config],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("mailadmin_client")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == "mailadmin_client" or n.startswith("mailadmin_client.")]:
            del sys.modules[name]


@pytest.mark.django_db(transaction=True)
def test_a_generated_client_creates_lists_and_is_refused_like_the_form(generated_client, live_server, domain_admin):
    from mailadmin_client.api.domains import create_mailbox, list_domains, list_mailboxes, update_mailbox
    from mailadmin_client.models import MailboxCreateRequest, MailboxOut, PatchedMailboxUpdateRequest, Problem

    client = generated_client.AuthenticatedClient(base_url=live_server.url, token=token_for(domain_admin))
    domains = list_domains.sync(client=client)
    assert [d.name for d in domains.results] == ["example.org"]

    created = create_mailbox.sync(
        "example.org", client=client, body=MailboxCreateRequest(local_part="Bob", password="a fine mail password")
    )
    assert isinstance(created, MailboxOut) and created.address == "bob@example.org"
    assert Mailbox.objects.filter(domain__name="example.org", local_part="bob").exists()

    again = create_mailbox.sync_detailed(
        "example.org", client=client, body=MailboxCreateRequest(local_part="bob", password="a fine mail password")
    )
    assert again.status_code == 400
    assert isinstance(again.parsed, Problem)
    assert again.parsed.errors["local_part"] == ["bob@example.org is already a mailbox."]

    changed = update_mailbox.sync("example.org", "bob", client=client, body=PatchedMailboxUpdateRequest(quota="2G"))
    assert changed.quota_mb == 2048
    page = list_mailboxes.sync("example.org", client=client, q="b")
    assert (page.count, [m.address for m in page.results]) == (1, ["bob@example.org"])
    assert AuditEntry.objects.filter(actor_name="admin dora (API token “script”)").count() == 2
