"""Whatever is typed or sent to the second-factor forms, the answer is a clear refusal, never a
server error, a signed-in session or a value silently changed on its way in."""

import json

import pytest
from django import forms
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_django.asserts import assertContains

from accounts.models import LoginFailure
from factors import forms as factor_forms
from factors.models import Enrolment, Passkey
from tests.helpers import MAIL_PASSWORD, mailbox_client
from tests.softauthenticator import SoftAuthenticator, b64u
from tests.test_factors import SECOND_STEP, add_passkey, add_totp, password_step
from tests.test_hostile_input import CONTROL_CHARACTERS, forms_of

FORMS = forms_of(factor_forms)


@pytest.mark.parametrize("form_class", FORMS, ids=lambda form: form.__name__)
@pytest.mark.parametrize(("value", "message"), [*CONTROL_CHARACTERS, ("12\x003456", "This cannot contain a NUL byte.")])
def test_it_refuses_control_characters_in_every_text_field(form_class, value, message, db):
    # A password is only compared with its hash (as on the sign-in form): refusing a character
    # would lock out a password set before the rule; Django still refuses a NUL byte there.
    text_fields = [
        name
        for name, field in form_class().fields.items()
        if isinstance(field, forms.CharField) and not isinstance(field.widget, forms.PasswordInput)
    ]
    for name in text_fields:
        form = form_class({name: value})
        assert message in form.errors.get(name, []), (name, form.errors.get(name))


@pytest.mark.parametrize(
    "code",
    [
        "١٢٣٤٥٦",
        "１２３４５６",
        "¹²³⁴⁵⁶",
        "12345",
        "1234567",
        "abcdef",
        "12 34 5\u00a06",
        "9" * 5000,
        "-12345",
        "+123456",
    ],
)
def test_a_code_that_is_not_six_ascii_digits_is_refused_by_the_form(mailbox, code):
    add_totp(mailbox_client("alice@example.org"))
    client = password_step("alice@example.org", MAIL_PASSWORD)
    response = client.post(SECOND_STEP, {"form": "code", "code": code})
    assert response.status_code == 200
    assert response.context["forms"]["code"].has_error("code")
    assert client.get("/account/").status_code == 302


@pytest.mark.parametrize(
    "code", ["ABCD-EFGH-JKM", "ABCD-EFGH-JKMN-P", "ＡＢＣＤ-ＥＦＧＨ-ＪＫＭＮ", "0000-0000-0000", "' OR 1=1 --"]
)
def test_a_recovery_code_of_the_wrong_shape_is_refused_by_the_form(mailbox, code):
    add_totp(mailbox_client("alice@example.org"))
    client = password_step("alice@example.org", MAIL_PASSWORD)
    response = client.post(SECOND_STEP, {"form": "recovery", "recovery-code": code})
    assert response.context["forms"]["recovery"].has_error("code")


def passkey_answer(authenticator: SoftAuthenticator, client: Client) -> dict:
    options = client.post("/login/second-factor/options/").json()
    return json.loads(authenticator.get(options))


HOSTILE_ANSWERS = [
    "",
    "null",
    "[]",
    "{}",
    '"a string"',
    "{" * 10000,
    json.dumps({"id": 7, "rawId": [], "type": "public-key", "response": "x"}),
    json.dumps({"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}),
    json.dumps({"id": "A" * 5000, "rawId": "!!", "type": "x", "response": {"clientDataJSON": "%%%"}}),
]


@pytest.mark.parametrize("answer", HOSTILE_ANSWERS)
def test_a_broken_passkey_answer_is_refused_everywhere(mailbox, answer):
    client = mailbox_client("alice@example.org")
    add_passkey(client, SoftAuthenticator())
    client.post("/security/passkeys/options/")
    assert client.post("/security/passkeys/new/", {"name": "Evil", "credential": answer}).status_code == 200
    assert Passkey.objects.count() == 1
    anonymous = Client()
    anonymous.post("/login/passkey/options/")
    assert anonymous.post("/login/passkey/", {"credential": answer}).status_code == 200
    signing_in = password_step("alice@example.org", MAIL_PASSWORD)
    signing_in.post("/login/second-factor/options/")
    assert signing_in.post(SECOND_STEP, {"form": "passkey", "credential": answer}).status_code == 200
    for who in (anonymous, signing_in):
        assert who.get("/account/").status_code == 302


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    field=st.sampled_from(["id", "rawId", "clientDataJSON", "authenticatorData", "signature", "userHandle", "type"]),
    value=st.one_of(
        st.text(max_size=50),
        st.integers(),
        st.none(),
        st.lists(st.integers(), max_size=3),
        st.binary(max_size=40).map(b64u),
    ),
)
def test_a_tampered_field_of_a_real_answer_never_signs_in_or_fails_the_server(mailbox, field, value):
    Enrolment.objects.all().delete()
    LoginFailure.objects.all().delete()  # each example starts with a clean count
    authenticator = SoftAuthenticator()
    add_passkey(mailbox_client("alice@example.org"), authenticator)
    client = password_step("alice@example.org", MAIL_PASSWORD, address="198.51.100.7")
    answer = passkey_answer(authenticator, client)
    target = answer if field in ("id", "rawId", "type") else answer["response"]
    if target.get(field) == value or (field == "userHandle" and value is None):
        return  # unchanged, or left out as WebAuthn allows
    target[field] = value
    response = client.post(SECOND_STEP, {"form": "passkey", "credential": json.dumps(answer)})
    assert response.status_code == 200
    assert client.get("/account/").status_code == 302


def test_a_passkey_answer_over_64_kib_is_refused_unread(mailbox):
    client = mailbox_client("alice@example.org")
    response = client.post("/security/passkeys/new/", {"name": "Big", "credential": "x" * (64 * 1024 + 1)})
    assert response.context["passkey_form"].has_error("credential")


def test_a_passkey_name_is_shown_as_text(mailbox):
    client = mailbox_client("alice@example.org")
    add_passkey(client, SoftAuthenticator(), name="<script>alert(1)</script>")
    response = client.get("/security/")
    assertContains(response, "&lt;script&gt;alert(1)&lt;/script&gt;")
    assert b"<script>alert(1)" not in response.content


@pytest.mark.parametrize("value", ["1; DROP TABLE", "999999", "-1", "\0"])
def test_the_policy_form_refuses_what_is_not_a_domain(superadmin_client, domain, value):
    response = superadmin_client.post("/admins/second-factors/", {"domains": [value]})
    assert response.status_code == 200 and response.context["form"].has_error("domains")


def test_someone_elses_passkey_cannot_be_removed(mailbox, superadmin_client):
    add_passkey(mailbox_client("alice@example.org"), SoftAuthenticator())
    passkey = Passkey.objects.get()
    assert superadmin_client.post(f"/security/passkeys/{passkey.pk}/remove/").status_code == 404
    assert Passkey.objects.count() == 1
