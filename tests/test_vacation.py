"""A mailbox user's automatic reply and forwarding: the page, the rules, and the Sieve script
the renderer writes (escaped so nothing typed can become a command)."""

import pytest
from pytest_django.asserts import assertContains

from accounts.models import Forwarding, Vacation
from export.sieve import SieveError, SieveRow, sieve_script


def test_a_mailbox_user_sets_an_automatic_reply_and_a_forward(mailbox_user_client, mailbox):
    page = mailbox_user_client.get("/account/vacation/")
    assertContains(page, "Automatic reply and forwarding")
    data = {
        "form": "vacation",
        "vacation-enabled": "on",
        "vacation-subject": "Away",
        "vacation-body": "Back soon.",
        "vacation-start": "2026-12-20",
        "vacation-end": "2027-01-05",
        "vacation-days": "7",
    }
    assert mailbox_user_client.post("/account/vacation/", data).status_code == 302
    vacation = Vacation.objects.get(mailbox=mailbox)
    assert vacation.enabled and str(vacation.end) == "2027-01-05"
    data = {"form": "forwarding", "forwarding-destinations": "Me@Elsewhere.example", "forwarding-keep_copy": "on"}
    assert mailbox_user_client.post("/account/vacation/", data).status_code == 302
    assert Forwarding.objects.get(mailbox=mailbox).destinations == ["me@elsewhere.example"]


def test_bad_input_is_named_and_changes_nothing(mailbox_user_client, mailbox):
    data = {"form": "vacation", "vacation-enabled": "on", "vacation-body": "", "vacation-days": "7"}
    assertContains(mailbox_user_client.post("/account/vacation/", data), "Write the reply people get.")
    data = {
        "form": "vacation",
        "vacation-enabled": "on",
        "vacation-body": "x",
        "vacation-days": "7",
        "vacation-start": "2027-01-05",
        "vacation-end": "2026-12-20",
    }
    assertContains(mailbox_user_client.post("/account/vacation/", data), "The last day comes before the first.")
    data = {"form": "forwarding", "forwarding-destinations": "alice@example.org"}
    assertContains(mailbox_user_client.post("/account/vacation/", data), "comes back to this mailbox")
    assert not Vacation.objects.exists() and not Forwarding.objects.exists()


def test_nothing_typed_can_end_a_string_or_the_reply_early():
    script = sieve_script(
        SieveRow("a@example.org", vacation=True, subject='He said "hi" \\o/', body='.\nline\n."\n', days=3)
    )
    assert ':subject "He said \\"hi\\" \\\\o/"' in script
    assert 'text:\n..\nline\n.."\n\n.\n;' in script  # dot-stuffed: the block ends only where it should
    with pytest.raises(SieveError):
        sieve_script(SieveRow("a@example.org", vacation=True, subject="two\nlines", body="x"))
    with pytest.raises(SieveError):
        sieve_script(SieveRow("a@example.org", vacation=True, body="x", start="2026-12-01; stop"))
    assert "require" not in sieve_script(SieveRow("a@example.org", forward_to=("b@c.example",), keep_copy=False))
