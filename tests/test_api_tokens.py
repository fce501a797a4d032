"""The API tokens page: an admin makes a token for themselves (confirmed with their second
factor when they have one), sees it once, sees when each was last used, and revokes it."""

import hashlib

import pyotp
from pytest_django.asserts import assertContains, assertNotContains

from api.auth import PREFIX
from api.models import ApiToken
from audit.models import AuditEntry
from factors import actions as factors
from factors.people import Person
from tests.softauthenticator import SoftAuthenticator
from tests.test_api_helpers import ApiClient
from tests.test_factors import add_passkey

NEW = {"name": "HR import", "writes": "yes", "all_domains": "yes", "domains": "", "lifetime": "90"}


def _shown_token(response) -> str:
    text = response.content.decode()
    start = text.index(PREFIX)
    return text[start : text.index("<", start)]


def test_it_shows_a_new_token_once_and_keeps_only_its_digest(domain_admin_client, domain_admin):
    response = domain_admin_client.post("/api-tokens/", NEW)
    token = _shown_token(response)
    assert response["Cache-Control"].startswith("max-age=0")
    stored = ApiToken.objects.get(owner=domain_admin)
    assert stored.digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(list(ApiToken.objects.values())) and stored.prefix == token[:8]
    assert (stored.writes, stored.all_domains, stored.expires_at is not None) == (True, True, True)
    assertNotContains(domain_admin_client.get("/api-tokens/"), token)
    assert ApiClient(token).get("/api/v1/token/").json()["name"] == "HR import"
    assert AuditEntry.objects.get(object_type="API token").changes == {
        "access": [None, "read-write"],
        "domains": [None, "all"],
        "expires": [None, stored.expires_at.isoformat(timespec="seconds")],
    }


def test_the_list_shows_when_each_token_was_last_used(domain_admin_client):
    token = _shown_token(domain_admin_client.post("/api-tokens/", NEW | {"lifetime": ""}))
    page = domain_admin_client.get("/api-tokens/")
    assertContains(page, "<td>never</td>", html=True, count=2)  # not used yet, never expires
    ApiClient(token).get("/api/v1/token/")
    assertContains(domain_admin_client.get("/api-tokens/"), "<td>never</td>", html=True, count=1)


def test_a_domain_admin_cannot_give_a_token_a_domain_they_do_not_manage(domain_admin_client, other_domain):
    response = domain_admin_client.post(
        "/api-tokens/", NEW | {"all_domains": "", "domains": "example.org, other.example"}
    )
    assertContains(response, "You do not manage other.example.")
    missing = domain_admin_client.post("/api-tokens/", NEW | {"all_domains": "", "domains": "nowhere.example"})
    assertContains(missing, "You do not manage nowhere.example.")  # the same words: nothing is disclosed
    assert not ApiToken.objects.exists()
    domain_admin_client.post("/api-tokens/", NEW | {"all_domains": "", "domains": "EXAMPLE.org", "writes": ""})
    token = ApiToken.objects.get()
    assert (token.writes, token.all_domains, [d.name for d in token.domains.all()]) == (False, False, ["example.org"])


def test_an_admin_with_an_authenticator_app_confirms_the_token_with_a_code(domain_admin_client, domain_admin):
    secret = pyotp.random_base32()
    factors.set_totp(Person(user=domain_admin), secret, 0, actor=Person(user=domain_admin).actor)
    asked = domain_admin_client.post("/api-tokens/", NEW)
    assert asked.status_code == 302 and asked["Location"] == "/api-tokens/confirm/"
    assert not ApiToken.objects.exists()
    wrong = domain_admin_client.post("/api-tokens/confirm/", {"form": "code", "code": "000000"})
    assertContains(wrong, "That code is wrong, or was used already.")
    assert not ApiToken.objects.exists()
    right = domain_admin_client.post("/api-tokens/confirm/", {"form": "code", "code": pyotp.TOTP(secret).now()})
    token = _shown_token(right)
    assert ApiClient(token).get("/api/v1/token/").status_code == 200
    again = domain_admin_client.get("/api-tokens/confirm/")  # confirmed once: nothing left to confirm
    assert again.status_code == 302


def test_wrong_codes_lock_the_account_as_failed_sign_ins_do(domain_admin_client, domain_admin, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    secret = pyotp.random_base32()
    factors.set_totp(Person(user=domain_admin), secret, 0, actor=Person(user=domain_admin).actor)
    domain_admin_client.post("/api-tokens/", NEW)
    for _ in range(2):
        domain_admin_client.post("/api-tokens/confirm/", {"form": "code", "code": "000000"})
    locked = domain_admin_client.post("/api-tokens/confirm/", {"form": "code", "code": pyotp.TOTP(secret).now()})
    assertContains(locked, "Too many failed sign-ins.")
    assert not ApiToken.objects.exists()


def test_revoking_a_token_stops_it_at_once(domain_admin_client, domain_admin):
    token = _shown_token(domain_admin_client.post("/api-tokens/", NEW))
    revoked = domain_admin_client.post(f"/api-tokens/{ApiToken.objects.get().pk}/revoke/")
    assert revoked.status_code == 302
    assert ApiClient(token).get("/api/v1/token/").status_code == 401
    assert AuditEntry.objects.filter(object_type="API token", action="revoked", actor=domain_admin).exists()


def test_an_admin_with_a_passkey_confirms_the_token_with_it(domain_admin_client):
    authenticator = SoftAuthenticator()
    add_passkey(domain_admin_client, authenticator)
    assert domain_admin_client.post("/api-tokens/", NEW)["Location"] == "/api-tokens/confirm/"
    options = domain_admin_client.post("/api-tokens/confirm/options/").json()
    answer = authenticator.get(options)
    token = _shown_token(domain_admin_client.post("/api-tokens/confirm/", {"form": "passkey", "credential": answer}))
    assert ApiClient(token).get("/api/v1/token/").status_code == 200
