"""Second factors for the web sign-in: passkeys (through a Python authenticator that speaks
WebAuthn as a browser does), authenticator-app codes, recovery codes, passwordless sign-in,
throttling of the second step, and the audit log."""

import json
import time

import pyotp
import pytest
from django.db import IntegrityError
from django.test import Client
from pytest_django.asserts import assertContains

from accounts.models import LoginFailure
from audit.models import AuditEntry
from core.sealed import unseal
from factors import signin
from factors.models import Enrolment, Passkey, RecoveryCode
from tests.helpers import MAIL_PASSWORD, PASSWORD, client_for, mailbox_client
from tests.softauthenticator import SoftAuthenticator

LOCKED = "Too many failed sign-ins. Try again in 15 minutes."
SECOND_STEP = "/login/second-factor/"


def add_passkey(client: Client, authenticator: SoftAuthenticator, name: str = "Laptop"):
    options = client.post("/security/passkeys/options/").json()
    return client.post("/security/passkeys/new/", {"name": name, "credential": authenticator.create(options)})


def new_totp_secret(client: Client) -> str:
    """The key the set-up page shows, as the session holds it (sealed)."""
    return unseal(client.session["factors_new_totp_secret"], "test").decode()


def add_totp(client: Client) -> pyotp.TOTP:
    client.get("/security/authenticator-app/")
    app = pyotp.TOTP(new_totp_secret(client))
    response = client.post("/security/authenticator-app/", {"code": app.now()})
    assert response.status_code in (200, 302), response.content
    return app


def next_code(app: pyotp.TOTP) -> str:
    """The code of the next 30-second step: still inside the window, and newer than any used."""
    return app.at(time.time() + 30)


def password_step(username: str, password: str, address: str = "192.0.2.9") -> Client:
    client = Client(REMOTE_ADDR=address)
    response = client.post("/login/", {"username": username, "password": password})
    assert response.status_code == 302 and response["Location"] == SECOND_STEP, response
    return client


def passkey_step(client: Client, authenticator: SoftAuthenticator, **kwargs):
    options = client.post("/login/second-factor/options/").json()
    return client.post(SECOND_STEP, {"form": "passkey", "credential": authenticator.get(options, **kwargs)})


def code_step(client: Client, code: str):
    return client.post(SECOND_STEP, {"form": "code", "code": code})


def recovery_step(client: Client, code: str):
    return client.post(SECOND_STEP, {"form": "recovery", "recovery-code": code})


def actions_logged() -> list[str]:
    return list(AuditEntry.objects.filter(object_type="second factors").order_by("pk").values_list("action", flat=True))


# Passkeys


def test_it_asks_a_mailbox_user_for_their_passkey_after_the_password(mailbox):
    authenticator = SoftAuthenticator()
    response = add_passkey(mailbox_client("alice@example.org"), authenticator)
    assertContains(response, "Here are your recovery codes.")
    assert len(response.context["codes"]) == 10
    client = password_step("alice@example.org", MAIL_PASSWORD)
    assert client.get("/account/").status_code == 302  # half signed in is not signed in
    response = passkey_step(client, authenticator)
    assert response.status_code == 302 and response["Location"] == "/account/"
    assert client.get("/account/").status_code == 200
    passkey = Passkey.objects.get()
    assert passkey.name == "Laptop" and passkey.sign_count == 1 and passkey.last_used_at is not None


def test_an_admin_is_not_signed_in_until_the_second_step_passes(superadmin):
    authenticator = SoftAuthenticator()
    add_passkey(client_for(superadmin), authenticator)
    client = password_step("root", PASSWORD)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    response = passkey_step(client, authenticator)
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_it_goes_on_to_the_page_asked_for_after_the_second_step(superadmin):
    authenticator = SoftAuthenticator()
    add_passkey(client_for(superadmin), authenticator)
    client = Client()
    client.post("/login/", {"username": "root", "password": PASSWORD, "next": "/audit/"})
    assert passkey_step(client, authenticator)["Location"] == "/audit/"


def test_a_removed_passkey_is_refused(mailbox):
    phone, laptop = SoftAuthenticator(), SoftAuthenticator()
    client = mailbox_client("alice@example.org")
    add_passkey(client, phone, "Phone")
    add_passkey(client, laptop, "Laptop")
    removed = Passkey.objects.get(name="Laptop")
    assert client.get(f"/security/passkeys/{removed.pk}/remove/").status_code == 200
    client.post(f"/security/passkeys/{removed.pk}/remove/")
    assert list(Passkey.objects.values_list("name", flat=True)) == ["Phone"]
    signing_in = password_step("alice@example.org", MAIL_PASSWORD)
    options = signing_in.post("/login/second-factor/options/").json()
    response = signing_in.post(
        SECOND_STEP, {"form": "passkey", "credential": laptop.get(options, laptop.credentials[0])}
    )
    assertContains(response, "This passkey is not one of yours here: it may have been removed.")
    assert LoginFailure.objects.get(key="account:alice@example.org").count == 1
    assert passkey_step(signing_in, phone).status_code == 302


def test_someone_elses_passkey_does_not_pass_their_second_step(mailbox, superadmin):
    alice, root = SoftAuthenticator(), SoftAuthenticator()
    add_passkey(mailbox_client("alice@example.org"), alice)
    add_passkey(client_for(superadmin), root)
    client = password_step("root", PASSWORD)
    options = client.post("/login/second-factor/options/").json()
    response = client.post(SECOND_STEP, {"form": "passkey", "credential": alice.get(options, alice.credentials[0])})
    assertContains(response, "This passkey is not one of yours here")
    assert client.get("/").status_code == 302


def test_it_refuses_an_answer_for_another_site_or_an_old_challenge(mailbox):
    authenticator = SoftAuthenticator()
    add_passkey(mailbox_client("alice@example.org"), authenticator)
    client = password_step("alice@example.org", MAIL_PASSWORD)
    response = passkey_step(client, authenticator, origin="https://evil.example")
    assertContains(response, "That passkey could not be checked.")
    # An answer to an earlier challenge (here: replayed after it was used) is refused.
    options = client.post("/login/second-factor/options/").json()
    answer = authenticator.get(options)
    client.post("/login/second-factor/options/")  # a new challenge replaces the first
    response = client.post(SECOND_STEP, {"form": "passkey", "credential": answer})
    assertContains(response, "That passkey could not be checked.")
    response = client.post(SECOND_STEP, {"form": "passkey", "credential": answer})
    assertContains(response, "This page asked for no passkey.")
    assert LoginFailure.objects.get(key="account:alice@example.org").count == 3


def test_a_cloned_passkey_whose_count_goes_back_is_refused(mailbox):
    authenticator = SoftAuthenticator()
    add_passkey(mailbox_client("alice@example.org"), authenticator)
    assert passkey_step(password_step("alice@example.org", MAIL_PASSWORD), authenticator).status_code == 302
    authenticator.credentials[0].sign_count = 0  # the clone has not counted the use above
    response = passkey_step(password_step("alice@example.org", MAIL_PASSWORD), authenticator)
    assertContains(response, "That passkey could not be checked.")


def test_a_passkey_that_always_counts_zero_still_signs_in(mailbox):
    authenticator = SoftAuthenticator(counts=False)
    add_passkey(mailbox_client("alice@example.org"), authenticator)
    for _ in range(2):
        assert passkey_step(password_step("alice@example.org", MAIL_PASSWORD), authenticator).status_code == 302


def test_it_refuses_the_same_passkey_twice(mailbox):
    authenticator = SoftAuthenticator()
    client = mailbox_client("alice@example.org")
    add_passkey(client, authenticator)
    options = client.post("/security/passkeys/options/").json()
    assert [c["id"] for c in options["excludeCredentials"]] == [Passkey.objects.get().credential_id]
    assert options["authenticatorSelection"]["residentKey"] == "required"


# Passwordless


def passwordless(authenticator: SoftAuthenticator, client: Client | None = None, **kwargs):
    client = client or Client()
    options = client.post("/login/passkey/options/").json()
    assert options["allowCredentials"] == [] and options["userVerification"] == "required"
    return client.post("/login/passkey/", {"credential": authenticator.get(options, **kwargs)}), client


def test_a_passkey_alone_signs_in_only_where_its_owner_turned_that_on(mailbox):
    authenticator = SoftAuthenticator()
    owner = mailbox_client("alice@example.org")
    add_passkey(owner, authenticator)
    response, _ = passwordless(authenticator)
    assertContains(response, "This passkey is a second step only")
    owner.post("/security/passwordless/", {"passwordless": "on"})
    assert Enrolment.objects.get().passwordless
    response, client = passwordless(authenticator)
    assert response.status_code == 302 and response["Location"] == "/account/"
    assert client.get("/account/").status_code == 200
    assert "changed passwordless sign-in" in actions_logged()


def test_a_passkey_alone_must_verify_its_user(mailbox):
    authenticator = SoftAuthenticator()
    owner = mailbox_client("alice@example.org")
    add_passkey(owner, authenticator)
    owner.post("/security/passwordless/", {"passwordless": "on"})
    authenticator.user_verified = False  # touched, but no PIN or fingerprint
    response, client = passwordless(authenticator)
    assertContains(response, "That passkey could not be checked.")
    assert client.get("/account/").status_code == 302
    assert LoginFailure.objects.get(key="account:alice@example.org").count == 1


def test_a_passkey_unknown_here_signs_nobody_in(db):
    stranger = SoftAuthenticator()
    stranger.create({"rp": {"id": "testserver"}, "user": {"id": "AAAA"}, "challenge": "x"})
    response, _ = passwordless(stranger)
    assertContains(response, "This passkey is not registered here: it may have been removed.")
    assert not LoginFailure.objects.exists()


def test_a_locked_account_cannot_sign_in_with_a_passkey_alone(mailbox):
    authenticator = SoftAuthenticator()
    owner = mailbox_client("alice@example.org")
    add_passkey(owner, authenticator)
    owner.post("/security/passwordless/", {"passwordless": "on"})
    for _ in range(5):
        Client().post("/login/", {"username": "alice@example.org", "password": "wrong"})
    response, _ = passwordless(authenticator)
    assertContains(response, LOCKED)


def test_passwordless_needs_a_passkey(mailbox):
    client = mailbox_client("alice@example.org")
    response = client.post("/security/passwordless/", {"passwordless": "on"}, follow=True)
    assertContains(response, "Add a passkey first")
    assert not Enrolment.objects.filter(passwordless=True).exists()


# Authenticator app (TOTP)


def test_it_sets_up_an_authenticator_app_with_a_qr_code_and_the_secret_as_text(mailbox):
    client = mailbox_client("alice@example.org")
    response = client.get("/security/authenticator-app/")
    secret = new_totp_secret(client)
    assert secret not in str(dict(client.session)), "the session keeps the key sealed"
    assertContains(response, "<svg")
    assertContains(response, " ".join(secret[i : i + 4] for i in range(0, 32, 4)))
    response = client.post("/security/authenticator-app/", {"code": "000000"})
    assertContains(response, "That code does not match")
    assert not Enrolment.objects.exclude(totp_secret="").exists()
    response = client.post("/security/authenticator-app/", {"code": pyotp.TOTP(secret).now()})
    assertContains(response, "Here are your recovery codes.")
    stored = Enrolment.objects.get().totp_secret
    assert secret not in stored and unseal(stored, "test").decode() == secret, "kept sealed, as DKIM keys are"
    assert actions_logged() == ["turned on authenticator app", "made new recovery codes"]


def test_a_code_signs_in_once(mailbox):
    app = add_totp(mailbox_client("alice@example.org"))
    client = password_step("alice@example.org", MAIL_PASSWORD)
    code = next_code(app)
    assert code_step(client, code)["Location"] == "/account/"
    again = password_step("alice@example.org", MAIL_PASSWORD)
    assertContains(code_step(again, code), "That code is wrong, or was used already.")


def test_the_code_that_set_the_app_up_cannot_sign_in(mailbox):
    client = mailbox_client("alice@example.org")
    client.get("/security/authenticator-app/")
    app = pyotp.TOTP(new_totp_secret(client))
    code = app.now()
    client.post("/security/authenticator-app/", {"code": code})
    assertContains(code_step(password_step("alice@example.org", MAIL_PASSWORD), code), "That code is wrong")


def test_a_code_from_a_clock_30_seconds_off_still_passes_but_not_90(superadmin):
    app = add_totp(client_for(superadmin))
    client = password_step("root", PASSWORD)
    assertContains(code_step(client, app.at(time.time() + 90)), "That code is wrong")
    assert code_step(client, app.at(time.time() + 30)).status_code == 302


# Throttling of the second step


def test_second_step_failures_lock_the_account_like_wrong_passwords(mailbox):
    app = add_totp(mailbox_client("alice@example.org"))
    client = password_step("alice@example.org", MAIL_PASSWORD)
    for _ in range(5):
        assertContains(code_step(client, "000000" if app.now() != "000000" else "111111"), "That code is wrong")
    assertContains(code_step(client, next_code(app)), LOCKED)
    # The same count as signing in with the password.
    response = Client().post("/login/", {"username": "alice@example.org", "password": MAIL_PASSWORD})
    assertContains(response, LOCKED)


def test_a_right_password_does_not_buy_more_guesses_at_the_code(mailbox):
    app = add_totp(mailbox_client("alice@example.org"))
    wrong = "000000" if next_code(app) != "000000" else "111111"
    for _ in range(2):
        client = password_step("alice@example.org", MAIL_PASSWORD)
        code_step(client, wrong)
        code_step(client, wrong)
    client = password_step("alice@example.org", MAIL_PASSWORD)
    code_step(client, wrong)
    assertContains(code_step(client, next_code(app)), LOCKED)


def test_the_count_is_cleared_once_both_steps_pass(mailbox):
    app = add_totp(mailbox_client("alice@example.org"))
    client = password_step("alice@example.org", MAIL_PASSWORD)
    code_step(client, "abcdef")  # not even a code: refused by the form, not counted
    code_step(client, "000000" if next_code(app) != "000000" else "111111")
    assert LoginFailure.objects.get(key="account:alice@example.org").count == 1
    assert code_step(client, next_code(app)).status_code == 302
    assert not LoginFailure.objects.filter(key="account:alice@example.org").exists()


def test_a_half_finished_sign_in_expires(mailbox, monkeypatch):
    add_totp(mailbox_client("alice@example.org"))
    client = password_step("alice@example.org", MAIL_PASSWORD)
    monkeypatch.setattr(signin, "PENDING_SECONDS", -1)
    response = client.get(SECOND_STEP)
    assert response.status_code == 302 and response["Location"] == "/login/"


def test_a_mailbox_disabled_between_the_steps_is_not_signed_in(mailbox):
    app = add_totp(mailbox_client("alice@example.org"))
    client = password_step("alice@example.org", MAIL_PASSWORD)
    mailbox.active = False
    mailbox.save()
    response = code_step(client, next_code(app))
    assert response["Location"] == "/login/"
    assert client.get("/account/").status_code == 302


def test_the_second_step_without_a_password_step_sends_to_the_sign_in(db):
    assert Client().get(SECOND_STEP)["Location"] == "/login/"
    assert Client().post("/login/second-factor/options/")["Location"] == "/login/"


# Recovery codes


def test_recovery_codes_are_stored_hashed_and_each_signs_in_once(mailbox):
    client = mailbox_client("alice@example.org")
    response = client.post("/security/authenticator-app/", {"code": "x"})  # makes the session's secret
    app = pyotp.TOTP(new_totp_secret(client))
    codes = client.post("/security/authenticator-app/", {"code": app.now()}).context["codes"]
    stored = list(RecoveryCode.objects.values_list("code_hash", flat=True))
    assert len(stored) == 10 and len(set(stored)) == 10
    assert not any(code.replace("-", "") in h or code in h for code in codes for h in stored)
    signing_in = password_step("alice@example.org", MAIL_PASSWORD)
    response = recovery_step(signing_in, codes[3].lower().replace("-", " "))
    assert response["Location"] == "/account/"
    assert RecoveryCode.objects.count() == 9
    again = password_step("alice@example.org", MAIL_PASSWORD)
    assertContains(recovery_step(again, codes[3]), "That recovery code is wrong, or was used already.")
    assert "used recovery code" in actions_logged()


def test_new_recovery_codes_replace_the_old_ones(mailbox):
    client = mailbox_client("alice@example.org")
    client.get("/security/authenticator-app/")
    app = pyotp.TOTP(new_totp_secret(client))
    old = client.post("/security/authenticator-app/", {"code": app.now()}).context["codes"]
    assertContains(client.get("/security/recovery-codes/"), "You have 10 unused recovery codes.")
    new = client.post("/security/recovery-codes/").context["codes"]
    assert set(old).isdisjoint(new)
    assertContains(
        recovery_step(password_step("alice@example.org", MAIL_PASSWORD), old[0]), "That recovery code is wrong"
    )
    assert recovery_step(password_step("alice@example.org", MAIL_PASSWORD), new[0]).status_code == 302


def test_recovery_codes_need_a_factor_first(mailbox):
    client = mailbox_client("alice@example.org")
    client.post("/security/recovery-codes/")
    assert not RecoveryCode.objects.exists()


# Removing


def test_removing_the_last_factor_drops_the_recovery_codes_where_none_is_required(mailbox):
    client = mailbox_client("alice@example.org")
    add_passkey(client, SoftAuthenticator())
    client.post("/security/passwordless/", {"passwordless": "on"})
    client.post(f"/security/passkeys/{Passkey.objects.get().pk}/remove/")
    assert not RecoveryCode.objects.exists() and not Enrolment.objects.get().passwordless
    entry = AuditEntry.objects.get(action="removed passkey")
    assert entry.changes == {
        "passkey": ["Laptop", None],
        "recovery codes": [10, 0],
        "passwordless sign-in": [True, False],
    }
    # Signing in asks for the password alone again.
    mailbox_client("alice@example.org")


def test_it_turns_the_authenticator_app_off(mailbox):
    client = mailbox_client("alice@example.org")
    add_totp(client)
    assertContains(client.get("/security/authenticator-app/remove/"), "Remove your authenticator app?")
    client.post("/security/authenticator-app/remove/")
    assert Enrolment.objects.get().totp_secret == ""
    assert "turned off authenticator app" in actions_logged()
    mailbox_client("alice@example.org")


# The audit log


def test_every_change_is_in_the_audit_log_and_no_secret_is(mailbox):
    client = mailbox_client("alice@example.org")
    add_passkey(client, SoftAuthenticator())
    app = add_totp(client)
    client.post("/security/recovery-codes/")
    client.post("/security/passwordless/", {"passwordless": "on"})
    client.post(f"/security/passkeys/{Passkey.objects.get().pk}/remove/")
    assert actions_logged() == [
        "added passkey",
        "made new recovery codes",
        "turned on authenticator app",
        "made new recovery codes",
        "changed passwordless sign-in",
        "removed passkey",
    ]
    entries = AuditEntry.objects.filter(object_type="second factors")
    assert {(e.object_name, e.domain_name, e.actor_name) for e in entries} == {
        ("alice@example.org", "example.org", "mailbox alice@example.org")
    }
    logged = json.dumps(list(entries.values_list("changes", flat=True)))
    assert app.secret not in logged and Passkey.objects.count() == 0


def test_an_enrolment_belongs_to_an_admin_or_a_mailbox_never_both_or_neither(mailbox, superadmin):
    from django.db import transaction

    for owner in [{"user": superadmin, "mailbox": mailbox}, {}]:
        with pytest.raises(IntegrityError), transaction.atomic():
            Enrolment.objects.create(user_handle=f"handle{len(owner)}", **owner)


def test_keys_stored_before_they_were_sealed_are_sealed_by_the_upgrade(transactional_db):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("factors", "0001_initial")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    admin = old.get_model("accounts", "User").objects.create(username="root")
    old.get_model("factors", "Enrolment").objects.create(
        user_id=admin.pk, user_handle="h", totp_secret="JBSWY3DPEHPK3PXP"
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    stored = Enrolment.objects.get().totp_secret
    assert stored != "JBSWY3DPEHPK3PXP" and unseal(stored, "test") == b"JBSWY3DPEHPK3PXP"


def test_a_set_up_begun_before_keys_were_sealed_starts_again_with_a_new_key(mailbox):
    client = mailbox_client("alice@example.org")
    session = client.session
    session["factors_new_totp_secret"] = "JBSWY3DPEHPK3PXP"  # a session from before the upgrade
    session.save()
    assertContains(client.get("/security/authenticator-app/"), "<svg")
    assert new_totp_secret(client) != "JBSWY3DPEHPK3PXP"
