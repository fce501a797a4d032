"""Deep pages of a long mailbox list start from anchors (accounts.pages, on SQLite), and are
still exactly the rows an OFFSET gives, in both orders, after every kind of change to the list.
The pages are read outside any transaction (transactional_db), as requests are, so the anchors
are kept between them and must follow each change."""

import random
from collections import OrderedDict

import pytest
from django.core.management import call_command
from django.db import connection

from accounts import actions, ordertriggers, pages
from accounts.management.commands.loaddemo import load_demo
from accounts.models import Mailbox, MailboxOrderVersion
from accounts.pages import mailbox_seek
from audit.log import COMMAND_LINE
from domains.models import Domain


@pytest.fixture
def long_list(transactional_db, settings, monkeypatch):
    """One domain of 1,234 mailboxes with fills from a few values (long runs of ties), pages
    of 20 and an anchor every 100 rows, so anchors fall inside runs of equal fill."""
    settings.PAGE_SIZE = 20
    monkeypatch.setattr("accounts.pages.ANCHOR_EVERY", 100)
    monkeypatch.setattr("accounts.pages._anchors", OrderedDict())  # none from another test's rows
    load_demo(mailboxes=1234, domains=1)
    set_fills(random.Random(14))
    return Domain.objects.get()


def set_fills(rng: random.Random) -> None:
    """As the usage sync writes them: a bulk UPDATE, no save()."""
    with connection.cursor() as cursor:
        for pk in Mailbox.objects.values_list("pk", flat=True):
            cursor.execute(
                "UPDATE accounts_mailbox SET fill_permille = %s WHERE id = %s", [rng.choice([-1, 0, 250, 1000]), pk]
            )


def shown(client, domain: Domain, query: str) -> list[str]:
    response = client.get(f"/domains/{domain.name}/?{query}")
    assert response.status_code == 200
    return [mailbox.local_part for mailbox in response.context["mailboxes"].object_list]


def assert_every_page_is_the_offset_page(client, domain: Domain) -> None:
    for fullest, order in ((False, ("local_part",)), (True, ("-fill_permille", "local_part"))):
        expected = list(Mailbox.objects.filter(domain=domain).order_by(*order).values_list("local_part", flat=True))
        pages = -(-len(expected) // 20)
        for number in range(1, pages + 1):
            query = f"mpage={number}" + ("&msort=fullest" if fullest else "")
            assert shown(client, domain, query) == expected[(number - 1) * 20 : number * 20], (query, fullest)


def test_every_deep_page_is_the_page_an_offset_gives(superadmin_client, long_list):
    assert_every_page_is_the_offset_page(superadmin_client, long_list)


def test_pages_follow_every_change_to_the_list(superadmin_client, long_list):
    domain = long_list
    assert_every_page_is_the_offset_page(superadmin_client, domain)  # anchors taken

    # A mailbox early in both orders goes, and one comes: every later page shifts.
    first = Mailbox.objects.filter(domain=domain).order_by("local_part").first()
    actions.delete_mailbox(first, actor=COMMAND_LINE)
    actions.create_mailbox(domain, "aaa-new", "a long new password 1", actor=COMMAND_LINE, quota_mb=0)
    assert_every_page_is_the_offset_page(superadmin_client, domain)

    # The usage sync moves fills with bulk UPDATEs.
    set_fills(random.Random(15))
    assert_every_page_is_the_offset_page(superadmin_client, domain)


def test_the_anchors_are_kept_between_requests_and_only_on_sqlite(superadmin_client, long_list):
    superadmin_client.get(f"/domains/{long_list.name}/?mpage=40")
    assert bool(pages._anchors) == (connection.vendor == "sqlite")


def test_the_triggers_come_back_when_a_migration_remakes_the_mailbox_table(transactional_db):
    if connection.vendor != "sqlite":
        assert mailbox_seek(Domain(pk=1, name="example.org"), fullest=False) is None  # no anchors, no triggers
        return
    names = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'accounts_mailbox'"
    with connection.schema_editor() as editor:  # what an AlterField does on SQLite: the table remade
        field = Mailbox._meta.get_field("display_name")
        editor.alter_field(Mailbox, field, field)
        editor._remake_table(Mailbox)
    with connection.cursor() as cursor:
        assert cursor.execute(names).fetchall() == []
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        assert sorted(row[0] for row in cursor.execute(names).fetchall()) == sorted(ordertriggers.TRIGGERS)


def test_the_order_version_moves_with_every_write_that_can_reorder(db, domain):
    if connection.vendor != "sqlite":
        return  # kept on SQLite only (accounts.ordertriggers); the test above checks PostgreSQL takes no anchors

    def version() -> int:
        return MailboxOrderVersion.objects.filter(domain=domain.pk).values_list("version", flat=True).first() or 0

    mailbox = actions.create_mailbox(domain, "alice", "a long new password 1", actor=COMMAND_LINE)
    seen = [version()]

    def moved() -> bool:
        seen.append(version())
        return seen[-1] != seen[-2]

    assert seen[0] > 0
    Mailbox.objects.filter(pk=mailbox.pk).update(fill_permille=500)
    assert moved()
    Mailbox.objects.filter(pk=mailbox.pk).update(fill_permille=500)
    assert not moved(), "the same fill again leaves the order as it was"
    actions.set_mailbox_password(mailbox, "another long password 2", actor=COMMAND_LINE)
    assert not moved(), "a password change does not reorder"
    Mailbox.objects.bulk_create([Mailbox(domain=domain, local_part="bob", password_hash=mailbox.password_hash)])
    assert moved()
    Mailbox.objects.filter(local_part="bob").update(local_part="bobby")
    assert moved()
    Mailbox.objects.filter(local_part="bobby").delete()
    assert moved()
