"""Second factors in real headless Chromium, with Chromium's own virtual authenticator (CDP
WebAuthn domain: ctap2, internal transport, resident keys, user verification) standing in for a
phone or laptop: a passkey is registered, asked for after the password, signs in alone where
turned on, and a removed or never-registered passkey is refused; authenticator-app codes
computed here with pyotp; recovery codes; and the superadmin's "required" policy."""

import base64
import time

import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import Page, expect

from accounts import actions
from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from domains import actions as domain_actions
from factors.models import Enrolment, Passkey
from tests.browser.test_admin_and_mailbox_flow import sign_in, sign_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ALICE = "alice mail password"
ADMIN = "correct horse battery staple"


def virtual_authenticator(page: Page):
    """A platform authenticator that holds discoverable credentials and verifies its user."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
    }
    authenticator_id = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})["authenticatorId"]
    return cdp, authenticator_id


def credentials(cdp, authenticator_id: str) -> list[dict]:
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]


def base64url(standard: str) -> str:
    return standard.replace("+", "-").replace("/", "_").rstrip("=")


def add_passkey(page: Page, name: str) -> list[str]:
    """On the sign-in security page: add a passkey; returns the recovery codes shown, if any."""
    page.get_by_label("Name of the passkey").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text(f"Added the passkey {name}.")).to_be_visible()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    if codes:
        page.get_by_role("link", name="I have kept them").click()
    expect(page.get_by_role("heading", name="Sign-in security")).to_be_visible()
    return codes


def test_a_mailbox_user_registers_a_passkey_and_signs_in_with_it(page: Page, live_server):
    domain = domain_actions.create_domain("example.org", actor=COMMAND_LINE)
    actions.create_mailbox(domain, "alice", ALICE, actor=COMMAND_LINE)
    cdp, authenticator_id = virtual_authenticator(page)

    sign_in(page, live_server.url, "alice@example.org", ALICE)
    page.get_by_role("link", name="Sign-in security").click()
    codes = add_passkey(page, "Laptop")
    assert len(codes) == 10
    expect(page.locator(".passkeys")).to_contain_text("Laptop")
    [held] = credentials(cdp, authenticator_id)
    assert held["isResidentCredential"] and held["rpId"] == "localhost"
    passkey = Passkey.objects.get()
    assert base64url(held["credentialId"]) == passkey.credential_id
    assert base64url(held["userHandle"]) == Enrolment.objects.get().user_handle
    sign_out(page)

    # The password, then the passkey.
    sign_in(page, live_server.url, "alice@example.org", ALICE)
    expect(page.get_by_role("heading", name="Second step")).to_be_visible()
    page.get_by_role("button", name="Use your passkey").click()
    expect(page.get_by_role("heading", name="Mail client settings")).to_be_visible()
    passkey.refresh_from_db()
    assert passkey.last_used_at is not None

    # Passwordless, once turned on.
    page.get_by_role("link", name="Sign-in security").click()
    page.get_by_label("Sign in with a passkey alone").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("A passkey alone signs you in now.")).to_be_visible()
    sign_out(page)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("heading", name="Mail client settings")).to_be_visible()

    # Removed in the panel, the passkey still on the device is refused.
    page.get_by_role("link", name="Sign-in security").click()
    page.get_by_role("link", name="Remove Laptop").click()
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("Removed the passkey Laptop.")).to_be_visible()
    assert len(credentials(cdp, authenticator_id)) == 1
    sign_out(page)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_text("This passkey is not registered here: it may have been removed.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    # With no factor left, the password alone signs in again.
    sign_in(page, live_server.url, "alice@example.org", ALICE)
    expect(page.get_by_role("heading", name="Mail client settings")).to_be_visible()
    assert list(
        AuditEntry.objects.filter(object_type="second factors").order_by("pk").values_list("action", flat=True)
    ) == [
        "added passkey",
        "made new recovery codes",
        "changed passwordless sign-in",
        "removed passkey",
    ]


def test_a_passkey_this_panel_never_registered_is_refused(page: Page, live_server):
    domain = domain_actions.create_domain("example.org", actor=COMMAND_LINE)
    actions.create_mailbox(domain, "alice", ALICE, actor=COMMAND_LINE)
    cdp, authenticator_id = virtual_authenticator(page)
    # A discoverable credential for this site, made outside the panel (as a phishing kit or an
    # old installation would have): Chromium signs with it, the panel does not know it.
    key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forged = {
        "credentialId": base64.b64encode(b"never registered here").decode(),
        "isResidentCredential": True,
        "rpId": "localhost",
        "privateKey": base64.b64encode(pkcs8).decode(),
        "userHandle": base64.b64encode(b"alice").decode(),
        "signCount": 0,
    }
    cdp.send("WebAuthn.addCredential", {"authenticatorId": authenticator_id, "credential": forged})

    page.goto(f"{live_server.url}/login/")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_text("This passkey is not registered here")).to_be_visible()
    page.goto(f"{live_server.url}/account/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_an_admin_signs_in_with_authenticator_app_codes_and_a_recovery_code(page: Page, live_server):
    actions.create_admin("root", ADMIN, actor=COMMAND_LINE, superadmin=True)
    sign_in(page, live_server.url, "root", ADMIN)
    page.get_by_role("link", name="Sign-in security").click()
    page.get_by_role("link", name="Set up an authenticator app").click()
    expect(page.locator(".qr svg")).to_be_visible()
    app = pyotp.TOTP(page.locator("#totp-secret").inner_text().replace(" ", ""))
    page.get_by_label("Code from your authenticator app").fill(app.now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_text("Your authenticator app is set up.")).to_be_visible()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I have kept them").click()
    expect(page.get_by_text("Codes from your authenticator app sign you in.")).to_be_visible()
    sign_out(page)

    sign_in(page, live_server.url, "root", ADMIN)
    next_code = app.at(time.time() + 30)
    wrong = "000000" if next_code != "000000" else "111111"
    page.get_by_label("Code from your authenticator app").fill(wrong)
    page.get_by_role("button", name="Check the code").click()
    expect(page.get_by_text("That code is wrong, or was used already.")).to_be_visible()
    page.get_by_label("Code from your authenticator app").fill(next_code)
    page.get_by_role("button", name="Check the code").click()
    expect(page.get_by_role("heading", name="Domains")).to_be_visible()
    sign_out(page)

    # The same code again is refused: each is accepted once.
    sign_in(page, live_server.url, "root", ADMIN)
    page.get_by_label("Code from your authenticator app").fill(next_code)
    page.get_by_role("button", name="Check the code").click()
    expect(page.get_by_text("That code is wrong, or was used already.")).to_be_visible()

    page.get_by_text("Lost your passkey or phone? Use a recovery code").click()
    page.get_by_label("Recovery code").fill(codes[0])
    page.get_by_role("button", name="Use the recovery code").click()
    expect(page.get_by_text("You used a recovery code: 9 left.")).to_be_visible()
    expect(page.get_by_role("heading", name="Domains")).to_be_visible()
    sign_out(page)

    sign_in(page, live_server.url, "root", ADMIN)
    page.get_by_text("Lost your passkey or phone? Use a recovery code").click()
    page.get_by_label("Recovery code").fill(codes[0])
    page.get_by_role("button", name="Use the recovery code").click()
    expect(page.get_by_text("That recovery code is wrong, or was used already.")).to_be_visible()


def test_a_required_second_factor_is_set_up_at_the_next_sign_in_and_reset_by_a_superadmin(page: Page, live_server):
    domain = domain_actions.create_domain("example.org", actor=COMMAND_LINE)
    actions.create_admin("root", ADMIN, actor=COMMAND_LINE, superadmin=True)
    actions.create_admin("dora", ADMIN, actor=COMMAND_LINE, superadmin=False, domains=[domain])
    virtual_authenticator(page)

    sign_in(page, live_server.url, "root", ADMIN)
    page.get_by_role("link", name="Admins").click()
    page.get_by_role("link", name="Second factors: who must have one").click()
    page.get_by_label("Every admin must have a second factor").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved. Admins who must have a second factor")).to_be_visible()
    # The superadmin too, from the next sign-in: set one up now, so that root can come back.
    page.get_by_role("link", name="Sign-in security").click()
    add_passkey(page, "Root's laptop")
    sign_out(page)

    sign_in(page, live_server.url, "dora", ADMIN)
    expect(page.get_by_role("heading", name="Sign-in security")).to_be_visible()
    expect(page.get_by_text("A superadmin requires a second factor for every admin.")).to_be_visible()
    page.goto(f"{live_server.url}/domains/example.org/")
    expect(page.get_by_text("Set up a second factor first")).to_be_visible()
    expect(page.get_by_role("heading", name="Sign-in security")).to_be_visible()
    add_passkey(page, "Dora's phone")
    page.goto(f"{live_server.url}/domains/example.org/")
    expect(page.get_by_role("heading", name="example.org")).to_be_visible()

    # Her only factor cannot be removed while one is required.
    page.get_by_role("link", name="Sign-in security").click()
    page.get_by_role("link", name="Remove Dora's phone").click()
    page.get_by_role("button", name="Remove").click()
    expect(
        page.get_by_text("This is your last one: add another passkey or an authenticator app first.")
    ).to_be_visible()
    expect(page.locator(".passkeys")).to_contain_text("Dora's phone")
    sign_out(page)

    # Dora lost her phone: root (password, then passkey) removes her factors.
    sign_in(page, live_server.url, "root", ADMIN)
    page.get_by_role("button", name="Use your passkey").click()
    expect(page.get_by_role("heading", name="Domains")).to_be_visible()
    page.get_by_role("link", name="Admins").click()
    page.get_by_role("link", name="dora").click()
    page.get_by_role("link", name="Second factors of dora").click()
    expect(page.get_by_text("Dora's phone")).to_be_visible()
    page.get_by_role("button", name="Remove every second factor").click()
    expect(page.get_by_text("Removed every second factor of dora.")).to_be_visible()
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_text("reset second factors").first).to_be_visible()
    sign_out(page)

    # And she is led to set one up again.
    sign_in(page, live_server.url, "dora", ADMIN)
    expect(page.get_by_text("A superadmin requires a second factor for every admin.")).to_be_visible()
