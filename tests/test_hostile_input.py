"""Whatever is typed or sent, the answer is a clear refusal or an empty result, never a server error
or a value silently changed on its way in."""

import re
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from django import forms
from django.core.management import CommandError
from django.db import connection
from pytest_django.asserts import assertContains

from accounts import forms as account_forms
from accounts import throttle
from accounts.models import Mailbox, User
from domains.models import Domain
from tests.helpers import PASSWORD, run_command

SEARCHES = ["\U0010ffff", "a\U0010ffff", "\U0010ffff\U0010ffff", "a\ud7ff", "exa\0mple", "\0"]


def search_urls(query: str) -> list[str]:
    return [
        f"/?{urlencode({'q': query})}",
        f"/audit/?{urlencode({'q': query})}",
        f"/admins/?{urlencode({'q': query})}",
        f"/domains/example.org/?{urlencode({'mq': query, 'aq': query, 'msort': query})}",
    ]


@contextmanager
def database_parameters():
    """Every parameter sent to the database inside the block: the values PostgreSQL would see."""
    sent: list = []

    def spy(execute, sql, params, many, context):
        sent.extend(params or [])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        yield sent


# Finding 19: searches.


@pytest.mark.parametrize("query", SEARCHES)
def test_it_answers_a_search_for_any_character(superadmin_client, domain, query):
    for url in search_urls(query):
        assert superadmin_client.get(url).status_code == 200, url


def test_a_nul_byte_in_a_search_never_reaches_the_database(superadmin_client, domain, mailbox):
    with database_parameters() as sent:
        for url in search_urls("alice\0") + search_urls("exa\0mple.org"):
            assert superadmin_client.get(url).status_code == 200, url
    assert not [p for p in sent if isinstance(p, str) and "\0" in p]
    assert list(Domain.objects.search("exa\0")) == []


def test_it_bounds_a_prefix_search_by_a_string_every_database_can_hold():
    from core.search import _upper_bound

    assert _upper_bound("abc") == "abd"
    assert _upper_bound("a\U0010ffff") == "b"
    assert _upper_bound("a\U0010ffff\U0010ffff") == "b"
    assert _upper_bound("\U0010ffff") is None
    assert _upper_bound("a\ud7ff") == "a\ue000"  # past the surrogates, which UTF-8 cannot encode


def test_a_search_ending_in_the_last_code_point_still_finds_by_its_prefix(domain):
    assert list(Domain.objects.search("example.org")) == [domain]
    assert list(Domain.objects.search("example.org\U0010ffff")) == []


def test_a_nul_byte_in_a_sign_in_name_never_reaches_the_database(mailbox):
    from django.test import Client

    with database_parameters() as sent:
        response = Client().post("/login/", {"username": "alice\0@example.org", "password": "x"})
    assert response.status_code == 200
    assert not [p for p in sent if isinstance(p, str) and "\0" in p]


def test_it_finds_no_mailbox_for_an_address_with_a_nul_byte_without_asking(mailbox):
    from accounts.sessions import find_mailbox

    with database_parameters() as sent:
        assert find_mailbox("alice\0@example.org") is None
    assert sent == []


# Finding 19: admin names, the same rule in the form and the commands.


NEW_ADMIN = {"active": "on", "password1": "a good admin password", "password2": "a good admin password"}

REFUSED_NAMES = [
    ("", "Enter an admin name."),
    ("   ", "Enter an admin name."),
    ("da\nna", "cannot contain a line break"),
    ("da\0na", "cannot contain a NUL byte"),
    ("da\u200bna", "cannot contain the invisible character U+200B (zero width space)"),
    ("<b>dana</b>", "cannot contain “<”"),
    ("da na", "cannot contain a space"),
    ("-dana", "must start with a letter or a digit"),
    ("ROOT", "differs from the admin root only in case"),
    ("Root", "differs from the admin root only in case"),
    ("\u0430dmin", "“а” (U+0430, cyrillic small letter a)"),  # Cyrillic а
    ("\u0391dmin", "(U+0391, greek capital letter alpha)"),
    ("ｒｏｏｔ", "(U+FF52, fullwidth latin small letter r)"),
    ("d" * 151, "at most 150 characters"),
]


@pytest.mark.parametrize(("name", "message"), REFUSED_NAMES)
def test_createadmin_cannot_create_a_name_the_admin_form_refuses(superadmin, superadmin_client, name, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run_command("createadmin", "--", name, stdin="a good admin password\n")
    response = superadmin_client.post("/admins/new/", NEW_ADMIN | {"username": name})
    assert response.status_code == 200 and response.context["form"].has_error("username")
    assert list(User.objects.values_list("username", flat=True)) == ["root"]


def test_firstadmin_cannot_create_a_name_the_admin_form_refuses(db):
    with pytest.raises(CommandError, match="cannot contain a line break"):
        run_command("firstadmin", "--username", "ad\nmin")
    assert not User.objects.exists()


def test_a_superadmin_cannot_add_a_look_alike_of_an_existing_admin(superadmin_client, domain_admin):
    for name in ["DORA", "Dora", "ｄｏｒａ", "\u0501ora", "dor\u0430"]:
        response = superadmin_client.post("/admins/new/", NEW_ADMIN | {"username": name})
        assert response.context["form"].has_error("username"), name
    assertContains(
        superadmin_client.post("/admins/new/", NEW_ADMIN | {"username": "DORA"}),
        "“DORA” differs from the admin dora only in case: choose a name nobody can mistake for it.",
    )
    assert User.objects.filter(username__iexact="dora").count() == 1


def test_it_still_takes_plain_admin_names(superadmin_client):
    for name in ["dana", "Dana.Smith", "ops_2", "x-y"]:
        response = superadmin_client.post("/admins/new/", NEW_ADMIN | {"username": f"  {name} "})
        assert response.status_code == 302, name
    assert run_command("createadmin", "backup.admin", stdin="a good admin password\n") == "created admin backup.admin\n"


# Finding 19: control characters are refused in every text field, not stripped.


def form_kwargs(form_class, domain, mailbox) -> dict:
    """What each form of accounts/forms.py needs; a new form must be added here, or the test fails."""
    return {
        account_forms.LoginForm: {},
        account_forms.MailboxForm: {"domain": domain},
        account_forms.AliasForm: {"domain": domain},
        account_forms.SelfServicePasswordForm: {"mailbox": mailbox, "attempt": throttle.attempt("a@b.c", "")},
        account_forms.AdminForm: {},
        account_forms.PostmasterForm: {},
        account_forms.VacationForm: {},
        account_forms.ForwardingForm: {},
    }[form_class]


# Passwords that are only compared with a hash: refusing a character there would lock out a
# password set before the rule, typed correctly. (NUL is still refused there, by Django.)
COMPARED_ONLY = {("LoginForm", "password"), ("SelfServicePasswordForm", "current_password")}


def forms_of(module) -> list[type[forms.BaseForm]]:
    """Every form class a module defines: a new one is tested without being listed."""
    return [
        form
        for form in vars(module).values()
        if isinstance(form, type) and issubclass(form, forms.BaseForm) and form.__module__ == module.__name__
    ]


FORMS = forms_of(account_forms)

# A value with one refused character, and the message that names it.
CONTROL_CHARACTERS = [
    ("Alice\n", "This cannot contain a line break."),
    ("\tAlice", "This cannot contain a tab."),
    ("Al\x1bice", "This cannot contain the invisible character U+001B."),
    ("Ali\u200bce", "This cannot contain the invisible character U+200B (zero width space)."),
    ("Ali\u202ece", "This cannot contain the invisible character U+202E (right-to-left override)."),
    ("Alice\u2028", "This cannot contain the invisible character U+2028 (line separator)."),
    ("\ufeffAlice", "This cannot contain the invisible character U+FEFF (zero width no-break space)."),
]


@pytest.mark.parametrize("form_class", FORMS, ids=lambda form: form.__name__)
@pytest.mark.parametrize(("value", "message"), CONTROL_CHARACTERS)
def test_it_refuses_control_characters_in_every_text_field(form_class, value, message, domain, mailbox):
    text_fields = [
        name
        for name, field in form_class(**form_kwargs(form_class, domain, mailbox)).fields.items()
        if isinstance(field, forms.CharField) and (form_class.__name__, name) not in COMPARED_ONLY
    ]
    assert text_fields
    for name in text_fields:
        allowed = getattr(form_class.base_fields.get(name), "allow", "")
        if any(character in allowed for character in value):
            continue  # taken on purpose there: line breaks between addresses, in a reply's text
        form = form_class({name: value}, **form_kwargs(form_class, domain, mailbox))
        assert message in form.errors.get(name, []), (name, form.errors.get(name))


def test_a_display_name_with_a_line_break_is_refused_not_changed(domain_admin_client, domain):
    data = {"local_part": "bob", "quota_mb": "0", "active": "on"}
    data |= {"password1": "a good mail password", "password2": "a good mail password"}
    response = domain_admin_client.post("/domains/example.org/mailboxes/new/", data | {"display_name": "Bob\n"})
    assertContains(response, "This cannot contain a line break.")
    assert not Mailbox.objects.exists()
    domain_admin_client.post("/domains/example.org/mailboxes/new/", data | {"display_name": "  Bob Builder  "})
    assert Mailbox.objects.get().display_name == "Bob Builder"


def test_alias_destinations_still_take_one_address_a_line(domain_admin_client, domain, mailbox):
    data = {"local_part": "team", "destinations": "alice@example.org\r\nsomeone@elsewhere.example\n", "active": "on"}
    domain_admin_client.post("/domains/example.org/aliases/new/", data)
    assert domain.aliases.get().destinations == ["alice@example.org", "someone@elsewhere.example"]
    data = {"local_part": "crew", "destinations": "alice@example.org\x0bsomeone@elsewhere.example", "active": "on"}
    assertContains(
        domain_admin_client.post("/domains/example.org/aliases/new/", data), "This cannot contain the invisible"
    )


def test_a_new_password_cannot_hold_a_control_character_but_keeps_its_spaces(mailbox_user_client, mailbox):
    new = "  a much better password\t"
    response = mailbox_user_client.post(
        "/account/", {"current_password": "mail password 4 alice", "password1": new, "password2": new}
    )
    assertContains(response, "This cannot contain a tab.")
    new = "  a much better password "
    response = mailbox_user_client.post(
        "/account/", {"current_password": "mail password 4 alice", "password1": new, "password2": new}
    )
    assert response.status_code == 302
    from accounts import mailpasswords

    mailbox.refresh_from_db()
    assert mailpasswords.check_hash(new, mailbox.password_hash)


def test_an_admin_whose_name_was_taken_before_the_rule_still_signs_in(db):
    # Names created before the rule (here, straight through the model) keep working.
    User.objects.create_user("Ünïcode", password=PASSWORD, is_superuser=True)
    from django.test import Client

    assert Client().post("/login/", {"username": "Ünïcode", "password": PASSWORD}).status_code == 302
