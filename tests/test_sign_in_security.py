"""Sign-in throttling that respelling a name, a reverse proxy or a forged header cannot get around."""

from datetime import timedelta

import pytest
from django.db.models import F
from django.test import Client
from pytest_django.asserts import assertContains

from accounts import mailpasswords, throttle
from accounts.models import LoginFailure
from tests.helpers import MAIL_PASSWORD, PASSWORD, mailbox_client

LOCKED = "Too many failed sign-ins. Try again in 15 minutes."


def sign_in(username: str, password: str, address: str = "192.0.2.9", forwarded_for: str | None = None):
    headers = {"REMOTE_ADDR": address}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return Client().post("/login/", {"username": username, "password": password}, **headers)


def signed_in(response) -> bool:
    return response.status_code == 302


def let_the_window_pass() -> None:
    LoginFailure.objects.update(window_started_at=F("window_started_at") - timedelta(hours=1))


# Finding 15: one account, one count, however its name is spelled.

MAILBOX_SPELLINGS = [
    "alice@example.org.",  # the root dot
    "ALICE@EXAMPLE.ORG",
    "alice@ｅｘａｍｐｌｅ.org",  # full-width letters
    "alice@example。org",  # ideographic full stop
    "Alice@Example.Org.",
]


def test_it_signs_a_mailbox_in_by_every_spelling_the_guesser_would_use(mailbox):
    for spelling in MAILBOX_SPELLINGS:
        assert signed_in(sign_in(spelling, MAIL_PASSWORD)), spelling


def test_a_guesser_cannot_get_more_tries_by_respelling_a_mailbox_address(mailbox):
    for spelling in MAILBOX_SPELLINGS:
        assert not signed_in(sign_in(spelling, "wrong guess"))
    response = sign_in("alice@example.org", MAIL_PASSWORD, address="198.51.100.1")
    assertContains(response, LOCKED)
    assert list(LoginFailure.objects.filter(key__startswith="account:").values_list("key", "count")) == [
        ("account:alice@example.org", 5)
    ]


def test_a_guesser_cannot_get_more_tries_by_respelling_an_admin_name(superadmin):
    for spelling in ["ROOT", "Root", "ｒｏｏｔ", "ＲＯＯＴ", "root"]:
        assert not signed_in(sign_in(spelling, "wrong guess"))
    assertContains(sign_in("root", PASSWORD, address="198.51.100.1"), LOCKED)


def test_it_counts_a_name_that_matches_no_account_by_the_same_rule(db):
    # Otherwise the sixth guess would tell whether a spelling belongs to a real mailbox.
    for spelling in ["nobody@example.org.", "NOBODY@EXAMPLE.ORG", "nobody@ｅｘａｍｐｌｅ.org"]:
        sign_in(spelling, "wrong guess")
    assert LoginFailure.objects.get(key="account:nobody@example.org").count == 3


# Finding 16: the client is the one that connected, or the one a trusted proxy names; names that
# match no account never lock an existing account out.


def test_failures_on_unknown_names_do_not_lock_the_superadmin_out_of_the_same_address(superadmin):
    for n in range(25):
        assert not signed_in(sign_in(f"guess{n}@example.org", "wrong guess"))
        assert not signed_in(sign_in(f"guess{n}", "wrong guess"))
    assert signed_in(sign_in("root", PASSWORD))


def fail_against_an_existing_account(n: int, address: str, forwarded_for: str | None = None) -> None:
    """A wrong password for root or alice by turns: the client's count grows, neither account locks."""
    sign_in(["root", "alice@example.org"][n % 2], "wrong guess", address, forwarded_for)


def test_a_client_that_fails_against_existing_accounts_cannot_go_on_guessing(mailbox, superadmin, settings):
    # The per-client limit is what stops one address trying a common password on every mailbox.
    settings.LOGIN_FAILURES_PER_CLIENT = 4
    for n in range(4):
        fail_against_an_existing_account(n, "192.0.2.9")
    assertContains(sign_in("alice@example.org", MAIL_PASSWORD, "192.0.2.9"), LOCKED)
    assertContains(sign_in("root", PASSWORD, "192.0.2.9"), LOCKED)
    assert signed_in(sign_in("root", PASSWORD, "198.51.100.1"))


def test_it_counts_two_clients_behind_a_trusted_proxy_apart(mailbox, superadmin, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.LOGIN_FAILURES_PER_CLIENT = 4
    for n in range(4):
        fail_against_an_existing_account(n, "127.0.0.1", forwarded_for="203.0.113.1")
    assertContains(sign_in("alice@example.org", MAIL_PASSWORD, "127.0.0.1", forwarded_for="203.0.113.1"), LOCKED)
    assert signed_in(sign_in("alice@example.org", MAIL_PASSWORD, "127.0.0.1", forwarded_for="203.0.113.2"))


def test_a_forged_forwarded_for_cannot_move_a_client_out_of_its_count(mailbox, superadmin, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.LOGIN_FAILURES_PER_CLIENT = 4
    # Sent by an untrusted peer directly: the header is ignored, the peer is the client.
    for n in range(4):
        fail_against_an_existing_account(n, "192.0.2.9", forwarded_for=f"198.51.100.{n}")
    assertContains(sign_in("root", PASSWORD, "192.0.2.9", forwarded_for="198.51.100.99"), LOCKED)
    # Sent through the proxy, which appends the address it saw: only that address is believed.
    for n in range(4):
        fail_against_an_existing_account(n, "127.0.0.1", forwarded_for=f"198.51.100.{n}, 203.0.113.1")
    assertContains(sign_in("root", PASSWORD, "127.0.0.1", forwarded_for="203.0.113.2, 203.0.113.1"), LOCKED)
    assert signed_in(sign_in("root", PASSWORD, "127.0.0.1", forwarded_for="203.0.113.2"))


@pytest.mark.parametrize(
    ("remote_addr", "forwarded_for", "client"),
    [
        ("192.0.2.9", "203.0.113.1", "192.0.2.9"),  # not from a proxy: the header is anyone's
        ("127.0.0.1", "", "127.0.0.1"),  # from the proxy, with no header
        ("127.0.0.1", "203.0.113.1", "203.0.113.1"),
        ("127.0.0.1", "forged, 198.51.100.1, 203.0.113.1", "203.0.113.1"),
        ("127.0.0.1", "203.0.113.1, 10.1.2.3", "203.0.113.1"),  # two proxies in a row
        ("127.0.0.1", "203.0.113.1,10.1.2.3 , 127.0.0.1", "203.0.113.1"),
        ("127.0.0.1", "10.1.2.3, 127.0.0.1", "10.1.2.3"),  # only proxies: the farthest one
        ("127.0.0.1", "203.0.113.1, not-an-address", "127.0.0.1"),  # garbage: believe nothing past it
        ("127.0.0.1", "203.0.113.1, 203.0.113.7:4711", "127.0.0.1"),
        ("127.0.0.1", "\0, ,,", "127.0.0.1"),
        ("127.0.0.1", "2001:DB8:0::1", "2001:db8::1"),
        ("::1", "203.0.113.1", "203.0.113.1"),
    ],
)
def test_it_believes_forwarded_for_only_as_far_as_trusted_proxies_wrote_it(
    remote_addr, forwarded_for, client, settings
):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "::1", "10.0.0.0/8"]
    assert throttle.client_address(remote_addr, forwarded_for) == client


def test_it_counts_an_ipv6_client_by_its_64_network(mailbox, superadmin, settings):
    # One host on IPv6 usually holds a whole /64: counting single addresses would count nothing.
    settings.LOGIN_FAILURES_PER_CLIENT = 4
    for n in range(4):
        fail_against_an_existing_account(n, f"2001:db8:1:2::{n + 1:x}")
    assertContains(sign_in("alice@example.org", MAIL_PASSWORD, "2001:db8:1:2:ffff::1"), LOCKED)
    assert signed_in(sign_in("alice@example.org", MAIL_PASSWORD, "2001:db8:1:3::1"))


# Finding 20: the current password on the account page is guessed under the same throttle.


def change_password(client: Client, current: str):
    new = "a much better password"
    return client.post("/account/", {"current_password": current, "password1": new, "password2": new})


def test_a_mailbox_user_cannot_guess_the_current_password_more_than_five_times(mailbox):
    client = mailbox_client("alice@example.org")
    for _ in range(5):
        assertContains(change_password(client, "wrong guess"), "This is not your current password.")
    assertContains(change_password(client, MAIL_PASSWORD), LOCKED)
    mailbox.refresh_from_db()
    assert mailpasswords.check_hash(MAIL_PASSWORD, mailbox.password_hash)
    # The same count as signing in: the account is locked there too.
    assertContains(sign_in("alice@example.org", MAIL_PASSWORD, address="198.51.100.1"), LOCKED)
    let_the_window_pass()
    assert change_password(client, MAIL_PASSWORD).status_code == 302
    mailbox.refresh_from_db()
    assert mailpasswords.check_hash("a much better password", mailbox.password_hash)


def test_it_keeps_every_throttle_key_within_its_column(db):
    # NFKC can make a name eighteen times longer (U+FDFA), and PostgreSQL refuses a longer key.
    for name in ["\ufdfa" * 300, "a" * 250 + "@" + "ü" * 60 + ".example", "x" * 320]:
        assert not signed_in(sign_in(name, "wrong guess"))
    max_length = LoginFailure._meta.get_field("key").max_length
    assert all(len(key) <= max_length for key in LoginFailure.objects.values_list("key", flat=True))
    assert LoginFailure.objects.count() == 3
