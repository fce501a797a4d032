"""Each domain keeps its number of mailboxes as they come and go, so the domain page numbers its
pages without counting every row; the number always matches the rows."""

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Count

from accounts import actions
from accounts.management.commands.loaddemo import load_demo
from accounts.models import Mailbox
from audit.log import COMMAND_LINE
from domains.actions import create_domain
from domains.models import Domain

pytestmark = pytest.mark.django_db


def counts_match() -> bool:
    rows = dict(Mailbox.objects.values_list("domain_id").annotate(n=Count("pk")).values_list("domain_id", "n"))
    return all(d.mailbox_count == rows.get(d.pk, 0) for d in Domain.objects.all())


def test_the_count_follows_every_mailbox_that_comes_and_goes():
    domain = create_domain("example.org", actor=COMMAND_LINE)
    other = create_domain("example.net", actor=COMMAND_LINE)
    made = [actions.create_mailbox(domain, f"user{i}", "a mail password", actor=COMMAND_LINE) for i in range(5)]
    actions.create_mailbox(other, "dave", "a mail password", actor=COMMAND_LINE)
    assert counts_match() and Domain.objects.get(pk=domain.pk).mailbox_count == 5
    actions.delete_mailbox(made[0], actor=COMMAND_LINE)
    actions.update_mailbox(made[1], actor=COMMAND_LINE, active=False)  # disabled still counts: it is listed
    assert counts_match() and Domain.objects.get(pk=domain.pk).mailbox_count == 4
    with pytest.raises(ValidationError):
        actions.create_mailbox(domain, "user1", "a mail password", actor=COMMAND_LINE)  # taken: refused
    assert counts_match()
    load_demo(mailboxes=30, domains=3)
    assert counts_match()


def test_the_domain_page_numbers_its_pages_from_the_count(superadmin_client, settings, django_assert_max_num_queries):
    settings.PAGE_SIZE = 10
    load_demo(mailboxes=95, domains=1)
    page = superadmin_client.get("/domains/demo000.example/?mpage=10").content.decode()
    assert '<span class="count">95</span>' in page and "Page 10 of 10" in page
    assert "user000090@demo000.example" in page


def test_the_rows_links_are_the_url_configurations_own(superadmin_client):
    from django.urls import reverse

    domain = create_domain("bücher.example", actor=COMMAND_LINE)
    actions.create_mailbox(domain, "a.b-c_d", "a mail password", actor=COMMAND_LINE)
    alias = actions.create_alias(domain, "team", ["a.b-c_d@xn--bcher-kva.example"], actor=COMMAND_LINE)
    page = superadmin_client.get(f"/domains/{domain.name}/").content.decode()
    for name, args in [
        ("mailbox_edit", [domain.name, "a.b-c_d"]),
        ("mailbox_toggle", [domain.name, "a.b-c_d"]),
        ("mailbox_delete", [domain.name, "a.b-c_d"]),
        ("alias_edit", [domain.name, alias.pk]),
        ("alias_delete", [domain.name, alias.pk]),
    ]:
        assert f'"{reverse(name, args=args)}"' in page, name
