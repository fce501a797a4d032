"""One address, one owner, as a database rule: two requests racing to create the same address
(a mailbox and an alias, or two mailboxes) cannot both win, and the loser gets a clear error."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from accounts import actions
from accounts.models import Address, Alias, Mailbox
from audit.log import COMMAND_LINE
from domains.actions import create_domain
from tests.helpers import MAIL_PASSWORD


def race(first, second) -> list:
    """Run `first` inside a transaction that stays open until `second` has started, as two
    concurrent requests would; return what each raised (or None)."""
    started, outcomes = threading.Event(), {}

    def run(name, action, hold) -> None:
        try:
            with transaction.atomic():
                action()
                if hold:
                    started.wait(5)
                    threading.Event().wait(0.3)  # the other request is now inside its own insert
            outcomes[name] = None
        except ValidationError as e:
            outcomes[name] = e
        finally:
            connection.close()

    one = threading.Thread(target=run, args=("first", first, True))
    one.start()
    threading.Event().wait(0.2)
    two = threading.Thread(target=lambda: (started.set(), run("second", second, False)))
    two.start()
    one.join(10)
    two.join(10)
    return [outcomes.get("first", "hung"), outcomes.get("second", "hung")]


@pytest.fixture
def example(transactional_db):
    domain = create_domain("example.org", actor=COMMAND_LINE)
    actions.create_mailbox(domain, "alice", MAIL_PASSWORD, actor=COMMAND_LINE)
    return domain


def test_a_mailbox_and_an_alias_racing_for_one_address_cannot_both_win(example):
    outcomes = race(
        lambda: actions.create_mailbox(example, "bob", MAIL_PASSWORD, actor=COMMAND_LINE),
        lambda: actions.create_alias(example, "bob", ["alice@example.org"], actor=COMMAND_LINE),
    )
    assert outcomes[0] is None and isinstance(outcomes[1], ValidationError), outcomes
    assert "bob@example.org is already a mailbox" in str(outcomes[1])
    assert Mailbox.objects.filter(local_part="bob").count() == 1 and not Alias.objects.filter(local_part="bob").exists()


def test_two_creates_of_one_mailbox_give_one_mailbox_and_a_clear_error(example):
    outcomes = race(
        lambda: actions.create_mailbox(example, "carol", MAIL_PASSWORD, actor=COMMAND_LINE),
        lambda: actions.create_mailbox(example, "carol", MAIL_PASSWORD, actor=COMMAND_LINE),
    )
    assert outcomes[0] is None and isinstance(outcomes[1], ValidationError), outcomes
    assert Mailbox.objects.filter(local_part="carol").count() == 1


def test_an_address_is_free_again_once_its_owner_is_deleted(example):
    mailbox = Mailbox.objects.get(local_part="alice")
    actions.delete_mailbox(mailbox, actor=COMMAND_LINE)
    assert not Address.objects.filter(local_part="alice").exists()
    actions.create_alias(example, "alice", ["someone@elsewhere.example"], actor=COMMAND_LINE)
