"""Pages make a fixed number of SQL queries, however many rows there are."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.management.commands.loaddemo import load_demo
from domains.models import Domain
from tests.helpers import htmx

PAGES = ["/", "/?q=demo00", "/domains/demo000.example/", "/domains/demo000.example/?mpage=2&mq=user", "/audit/"]


def count_queries(client, url: str, **headers) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, **headers).status_code == 200
    return len(queries)


@pytest.mark.parametrize("url", PAGES)
def test_query_count_does_not_grow_with_rows(superadmin_client, url, settings):
    settings.PAGE_SIZE = 10
    load_demo(mailboxes=30, domains=3)
    few = count_queries(superadmin_client, url)
    Domain.objects.all().delete()
    load_demo(mailboxes=600, domains=30)
    many = count_queries(superadmin_client, url)
    assert few == many <= 10


def test_domain_admin_pages_stay_fixed_too(domain_admin_client, domain):
    load_demo(mailboxes=100, domains=2)
    assert count_queries(domain_admin_client, "/domains/example.org/") <= 10
    assert count_queries(domain_admin_client, "/domains/example.org/?mq=a", **htmx("mailbox-results")) <= 10


def test_searches_are_answered_from_an_index(db, domain):
    from accounts.models import Alias, Mailbox, User
    from audit.models import AuditEntry

    if connection.vendor == "postgresql":
        # Small tables are cheaper to scan; forbid that to see whether an index can answer at all.
        connection.cursor().execute("SET enable_seqscan = off")
    queries = {
        "mailboxes": Mailbox.objects.filter(domain=domain).search("abc"),
        "aliases": Alias.objects.filter(domain=domain).search("abc"),
        "domains": Domain.objects.search("abc"),
        "audit": AuditEntry.objects.visible_to(User(is_superuser=True)).search("abc"),
    }
    for what, queryset in queries.items():
        plan = queryset.explain()
        if connection.vendor == "sqlite":
            assert "USING" in plan and "INDEX" in plan and ">? AND" in plan, (what, plan)
        else:
            assert "Index" in plan and "Seq Scan" not in plan, (what, plan)
