"""Changing how someone signs in (passkeys, authenticator app, recovery codes, app passwords)
needs a recent sign-in: a session left open, or stolen, cannot add its own way in."""

import time

import pytest

from accounts.models import AppPassword, LoginFailure
from accounts.recent import RECENT_SECONDS, SIGNED_IN_AT
from tests.helpers import MAIL_PASSWORD, PASSWORD, client_for, mailbox_client

pytestmark = pytest.mark.django_db


def age(client, seconds: float) -> None:
    session = client.session
    session[SIGNED_IN_AT] = time.time() - seconds
    session.save()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/security/authenticator-app/"),
        ("post", "/security/passkeys/options/"),
        ("post", "/security/recovery-codes/"),
        ("post", "/security/passwordless/"),
    ],
)
def test_an_old_admin_session_confirms_the_password_before_changing_factors(superadmin, method, url):
    client = client_for(superadmin)
    age(client, RECENT_SECONDS + 1)
    response = getattr(client, method)(url)
    assert response.status_code == 302 and response["Location"].startswith("/security/confirm/")


def test_confirming_the_password_leads_back_and_a_wrong_one_counts_as_a_failed_sign_in(superadmin):
    client = client_for(superadmin)
    age(client, RECENT_SECONDS + 1)
    response = client.get("/security/authenticator-app/")
    assert response["Location"] == "/security/confirm/?next=%2Fsecurity%2Fauthenticator-app%2F"
    wrong = client.post("/security/confirm/", {"password": "not it", "next": "/security/authenticator-app/"})
    assert "That is not your password." in wrong.content.decode()
    assert LoginFailure.objects.exists()  # counted against the account, as a failed sign-in is
    right = client.post("/security/confirm/", {"password": PASSWORD, "next": "/security/authenticator-app/"})
    assert right.status_code == 302 and right["Location"] == "/security/authenticator-app/"
    assert client.get("/security/authenticator-app/").status_code == 200
    off_site = client.post("/security/confirm/", {"password": PASSWORD, "next": "https://evil.example/"})
    assert off_site["Location"] == "/security/"


def test_a_mailbox_user_confirms_before_making_an_app_password(mailbox):
    client = mailbox_client("alice@example.org")
    assert client.get("/account/app-passwords/").status_code == 200  # just signed in
    age(client, RECENT_SECONDS + 1)
    response = client.post("/account/app-passwords/", {"name": "thief's laptop"})
    assert response.status_code == 302 and response["Location"].startswith("/security/confirm/")
    assert not AppPassword.objects.exists()
    client.post("/security/confirm/", {"password": MAIL_PASSWORD})
    client.post("/account/app-passwords/", {"name": "phone"})
    assert AppPassword.objects.get().name == "phone"
