"""One sign-in page: admins by name, mailbox users by address and mail password; failures throttled."""

from django.test import Client

from accounts import actions
from accounts.models import User
from audit.log import COMMAND_LINE
from mailadmin import settings as production_settings
from tests.helpers import MAIL_PASSWORD, PASSWORD


def sign_in(username: str, password: str, client: Client | None = None, address: str = "127.0.0.1"):
    return (client or Client()).post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_an_admin_signs_in_with_name_and_password_and_lands_on_the_dashboard(superadmin):
    response = sign_in("root", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"


def test_admin_passwords_are_stored_with_argon2(db, settings):
    settings.PASSWORD_HASHERS = production_settings.PASSWORD_HASHERS  # tests/conftest.py swaps in a fast one
    actions.create_admin("root", PASSWORD, actor=COMMAND_LINE, superadmin=True)
    assert User.objects.get(username="root").password.startswith("argon2$argon2id$")


def test_a_mailbox_user_signs_in_with_address_and_mail_password(mailbox):
    response = sign_in("Alice@Example.org", MAIL_PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/account/"


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(mailbox, superadmin):
    for username in ["alice@example.org", "root", "nobody@example.org", "nobody"]:
        response = sign_in(username, "wrong password")
        assert response.status_code == 200
        assert "The name or password is wrong, or the account is disabled." in response.content.decode()


def test_a_disabled_mailbox_or_domain_cannot_sign_in(mailbox, domain):
    mailbox.active = False
    mailbox.save()
    assert sign_in("alice@example.org", MAIL_PASSWORD).status_code == 200
    mailbox.active = True
    mailbox.save()
    domain.active = False
    domain.save()
    assert sign_in("alice@example.org", MAIL_PASSWORD).status_code == 200


def test_disabling_a_mailbox_ends_its_open_sessions(mailbox):
    client = Client()
    sign_in("alice@example.org", MAIL_PASSWORD, client)
    assert client.get("/account/").status_code == 200
    mailbox.active = False
    mailbox.save()
    assert client.get("/account/").status_code == 302


def test_an_account_is_locked_after_five_failures_even_with_the_right_password(mailbox):
    for _ in range(5):
        sign_in("alice@example.org", "wrong", address="10.0.0.1")
    response = sign_in("alice@example.org", MAIL_PASSWORD, address="10.0.0.2")
    assert response.status_code == 200
    assert "Too many failed sign-ins. Try again in 15 minutes." in response.content.decode()


def test_a_client_address_is_locked_after_twenty_failures_across_existing_accounts(mailbox, superadmin, domain):
    # Names that match no account do not count here (accounts/throttle.py says why).
    names = ["bob", "carol", "dave", "erin"]
    for name in names:
        actions.create_mailbox(domain, name, MAIL_PASSWORD, actor=COMMAND_LINE)
    for n in range(20):
        sign_in(f"{names[n % 4]}@example.org", "wrong", address="192.0.2.9")
    assert "Too many failed sign-ins" in sign_in("root", PASSWORD, address="192.0.2.9").content.decode()
    assert sign_in("root", PASSWORD, address="192.0.2.10").status_code == 302


def test_failures_are_forgotten_when_the_window_has_passed(mailbox, settings):
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 0
    for _ in range(6):
        sign_in("alice@example.org", "wrong")
    assert sign_in("alice@example.org", MAIL_PASSWORD).status_code == 302


def test_a_successful_sign_in_resets_the_account_count(mailbox):
    for _ in range(4):
        sign_in("alice@example.org", "wrong")
    sign_in("alice@example.org", MAIL_PASSWORD)
    for _ in range(4):
        sign_in("alice@example.org", "wrong")
    assert sign_in("alice@example.org", MAIL_PASSWORD).status_code == 302


def test_next_only_redirects_within_the_site(superadmin):
    client = Client()
    response = client.post(
        "/login/?next=https://evil.example/",
        {"username": "root", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == "/"
    response = Client().post("/login/", {"username": "root", "password": PASSWORD, "next": "/audit/"})
    assert response["Location"] == "/audit/"


def test_sign_out_ends_the_session(superadmin):
    client = Client()
    sign_in("root", PASSWORD, client)
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_old_failure_counts_are_cleared_away(mailbox, settings):
    from accounts.models import LoginFailure

    settings.LOGIN_FAILURE_WINDOW_SECONDS = 0
    for n in range(3):
        sign_in(f"guess{n}@example.org", "wrong")
    assert LoginFailure.objects.count() <= 2  # only the latest attempt's account and client rows remain
