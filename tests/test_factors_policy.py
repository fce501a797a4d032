"""Who must have a second factor (every admin, or the admins of some domains), how an admin
without one is led to set it up, and a superadmin resetting someone's lost factors."""

from django.test import Client
from pytest_django.asserts import assertContains

from audit.models import AuditEntry
from factors.models import Enrolment, Passkey, Policy, RequiredDomain
from tests.helpers import PASSWORD, client_for, mailbox_client
from tests.softauthenticator import SoftAuthenticator
from tests.test_factors import add_passkey, add_totp, code_step, next_code, password_step


def sign_in(username: str, password: str = PASSWORD) -> tuple[Client, str]:
    client = Client()
    response = client.post("/login/", {"username": username, "password": password})
    assert response.status_code == 302
    return client, response["Location"]


def test_a_superadmin_requires_a_second_factor_of_every_admin(superadmin_client, domain_admin):
    response = superadmin_client.post("/admins/second-factors/", {"all_admins": "on"})
    assert response.status_code == 302
    assert Policy.objects.get().all_admins
    entry = AuditEntry.objects.get(object_type="second factor policy")
    assert entry.changes == {"all admins": [False, True]} and entry.actor_name == "admin root"
    client, landing = sign_in("dora")
    assert landing == "/security/"
    for page in ["/", "/audit/", "/domains/example.org/"]:
        response = client.get(page)
        assert response.status_code == 302 and response["Location"] == "/security/", page
    assertContains(client.get("/security/"), "A superadmin requires a second factor for every admin.")
    app = add_totp(client)
    assert client.get("/").status_code == 200
    # And from now on the code is asked for.
    signing_in = password_step("dora", PASSWORD)
    assert code_step(signing_in, next_code(app))["Location"] == "/"


def test_a_superadmin_requires_it_of_one_domains_admins(superadmin_client, domain_admin, other_domain_admin, domain):
    superadmin_client.post("/admins/second-factors/", {"domains": [domain.pk]})
    assert list(RequiredDomain.objects.values_list("domain__name", flat=True)) == ["example.org"]
    assert sign_in("dora")[1] == "/security/"
    assert sign_in("otto")[1] == "/"
    client, _ = sign_in("dora")
    assertContains(client.get("/security/"), "A superadmin requires a second factor for the admins of example.org.")


def test_mailbox_users_are_not_held_by_the_admins_policy(superadmin_client, mailbox):
    superadmin_client.post("/admins/second-factors/", {"all_admins": "on"})
    mailbox_client("alice@example.org")


def test_the_last_factor_cannot_be_removed_where_one_is_required(superadmin_client, domain_admin, domain):
    Policy.objects.create(pk=1, all_admins=True)
    client = client_for(domain_admin)
    add_totp(client)
    response = client.post("/security/authenticator-app/remove/", follow=True)
    assertContains(response, "A superadmin requires a second factor for every admin. This is your last one")
    assert Enrolment.objects.get().totp_secret
    add_passkey(client, SoftAuthenticator())
    client.post("/security/authenticator-app/remove/")
    assert not Enrolment.objects.get().totp_secret
    response = client.post(f"/security/passkeys/{Passkey.objects.get().pk}/remove/", follow=True)
    assertContains(response, "This is your last one: add another passkey or an authenticator app first.")
    assert Passkey.objects.count() == 1


def test_a_superadmin_resets_an_admins_lost_factors(superadmin_client, domain_admin):
    add_totp(client_for(domain_admin))
    response = superadmin_client.get(f"/admins/{domain_admin.pk}/second-factors/")
    assertContains(response, "<dt>Authenticator app</dt><dd>on</dd>", html=True)
    superadmin_client.post(f"/admins/{domain_admin.pk}/second-factors/")
    assert not Enrolment.objects.exists()
    entry = AuditEntry.objects.get(action="reset second factors")
    assert entry.actor_name == "admin root" and entry.object_name == "dora"
    assert entry.changes == {"authenticator app": [True, False], "recovery codes": [10, 0]}
    assert sign_in("dora")[1] == "/"


def test_a_superadmin_resets_a_mailbox_users_factors_even_where_required(superadmin_client, domain_admin, mailbox):
    client = mailbox_client("alice@example.org")
    add_passkey(client, SoftAuthenticator())
    url = "/domains/example.org/mailboxes/alice/second-factors/"
    assertContains(superadmin_client.get(url), "Laptop")
    superadmin_client.post(url)
    entry = AuditEntry.objects.get(action="reset second factors")
    assert entry.domain_name == "example.org" and entry.changes["passkeys"] == [["Laptop"], []]
    mailbox_client("alice@example.org")
    # A domain admin sees the reset in their domain's log, but cannot reset.
    assert client_for(domain_admin).post(url).status_code == 403


def test_an_admin_whose_factors_were_reset_where_required_sets_one_up_again(superadmin_client, domain_admin):
    Policy.objects.create(pk=1, all_admins=True)
    add_totp(client_for(domain_admin))
    superadmin_client.post(f"/admins/{domain_admin.pk}/second-factors/")
    client, landing = sign_in("dora")
    assert landing == "/security/"


def test_the_set_up_page_takes_a_passkey_too(superadmin_client, domain_admin):
    Policy.objects.create(pk=1, all_admins=True)
    client, _ = sign_in("dora")
    assert client.get("/security/recovery-codes/").status_code == 200
    add_passkey(client, SoftAuthenticator())
    assert client.get("/").status_code == 200


def test_the_policy_page_keeps_what_was_chosen(superadmin_client, domain, other_domain):
    superadmin_client.post("/admins/second-factors/", {"domains": [domain.pk, other_domain.pk]})
    superadmin_client.post("/admins/second-factors/", {"domains": [other_domain.pk]})
    assert list(RequiredDomain.objects.values_list("domain__name", flat=True)) == ["other.example"]
    entries = AuditEntry.objects.filter(object_type="second factor policy").order_by("pk")
    assert entries.last().changes == {"admins of": [["example.org", "other.example"], ["other.example"]]}
    response = superadmin_client.get("/admins/second-factors/")
    assert response.context["form"].initial["domains"] == [other_domain.pk]


def test_only_a_superadmin_sets_the_policy(domain_admin_client, mailbox):
    assert domain_admin_client.post("/admins/second-factors/", {"all_admins": "on"}).status_code == 403
    assert mailbox_client("alice@example.org").post("/admins/second-factors/").status_code == 403
    assert not Policy.objects.exists()


def test_a_factor_added_in_another_session_or_a_policy_lifted_frees_the_first(superadmin_client, domain_admin):
    Policy.objects.create(pk=1, all_admins=True)
    first, _ = sign_in("dora")
    second, _ = sign_in("dora")
    assert first.get("/")["Location"] == "/security/"
    add_totp(second)
    assert first.get("/").status_code == 200
    superadmin_client.post(f"/admins/{domain_admin.pk}/second-factors/")  # reset
    third, _ = sign_in("dora")
    assert third.get("/")["Location"] == "/security/"
    superadmin_client.post("/admins/second-factors/", {})
    assert third.get("/").status_code == 200
