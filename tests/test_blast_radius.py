"""Nothing a domain admin stores stops the rest of the host from applying (DESIGN decision 10):
the alias action refuses loops, chains deeper than OpenSMTPD expands and destinations that do
not exist; a change that invalidates other rows handles them; and a row the renderer still
refuses is left out, named on its domain's page, while every other change reaches the daemons."""

import pytest
from django.core.exceptions import ValidationError
from pytest_django.asserts import assertContains

from accounts import actions
from accounts.models import Alias, Mailbox
from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from core.aliasgraph import MAX_DEPTH
from domains import actions as domain_actions
from domains.models import DkimKey
from export.apply import apply_pending
from export.dirty import config_state
from tests.helpers import MAIL_PASSWORD


def users_file(root) -> str:
    return (root / "etc/dovecot/users").read_text()


def virtuals(root) -> str:
    return (root / "etc/smtpd/virtuals").read_text()


def test_the_alias_action_refuses_a_chain_deeper_than_opensmtpd_expands(domain, mailbox):
    previous = mailbox.ascii_address
    for n in range(MAX_DEPTH - 1):
        actions.create_alias(domain, f"hop{n}", [previous], actor=COMMAND_LINE)
        previous = f"hop{n}@example.org"
    with pytest.raises(ValidationError, match="this alias would expand 10 levels deep; OpenSMTPD stops at 9"):
        actions.create_alias(domain, "onemore", [previous], actor=COMMAND_LINE)
    assert not Alias.objects.filter(local_part="onemore").exists()


def test_the_alias_action_refuses_a_loop(domain, mailbox):
    actions.create_alias(domain, "a", ["alice@example.org"], actor=COMMAND_LINE)
    b = actions.create_alias(domain, "b", ["a@example.org"], actor=COMMAND_LINE)
    a = Alias.objects.get(local_part="a")
    with pytest.raises(ValidationError, match="part of a loop"):
        actions.update_alias(a, actor=COMMAND_LINE, destinations=["b@example.org", "alice@example.org"])
    assert Alias.objects.get(pk=a.pk).destinations == ["alice@example.org"]
    assert b.destinations == ["a@example.org"]


def test_a_destination_here_must_be_a_live_mailbox_or_alias(domain, other_domain, mailbox):
    with pytest.raises(ValidationError, match="alicia@example.org is neither a mailbox nor an alias here"):
        actions.create_alias(domain, "info", ["alicia@example.org"], actor=COMMAND_LINE)
    actions.update_mailbox(mailbox, actor=COMMAND_LINE, active=False)
    with pytest.raises(ValidationError, match="alice@example.org is neither a mailbox nor an alias here"):
        actions.create_alias(domain, "info", ["alice@example.org"], actor=COMMAND_LINE)
    domain_actions.update_domain(other_domain, actor=COMMAND_LINE, active=False)
    with pytest.raises(ValidationError, match="the domain other.example is disabled here"):
        actions.create_alias(domain, "info", ["x@other.example"], actor=COMMAND_LINE)
    actions.create_alias(domain, "info", ["someone@elsewhere.example"], actor=COMMAND_LINE)  # outside: fine


def test_the_alias_form_shows_the_refusal_next_to_the_destinations(domain_admin_client, domain, mailbox):
    response = domain_admin_client.post(
        "/domains/example.org/aliases/new/",
        {"local_part": "info", "destinations": "alicia@example.org", "active": "on"},
    )
    assertContains(response, "alicia@example.org is neither a mailbox nor an alias here")
    assert not Alias.objects.filter(local_part="info").exists()


def test_deleting_a_mailbox_takes_it_out_of_the_aliases_that_named_it(domain, mailbox):
    bob = actions.create_mailbox(domain, "bob", MAIL_PASSWORD, actor=COMMAND_LINE)
    team = actions.create_alias(domain, "team", ["alice@example.org", "bob@example.org"], actor=COMMAND_LINE)
    actions.create_alias(domain, "alice-only", ["alice@example.org"], actor=COMMAND_LINE)
    actions.delete_mailbox(mailbox, actor=COMMAND_LINE)
    team.refresh_from_db()
    assert team.destinations == [bob.ascii_address]
    assert not Alias.objects.filter(local_part="alice-only").exists()
    assert AuditEntry.objects.filter(action="deleted", object_name="alice-only@example.org").exists()


def test_deleting_an_alias_in_a_loop_left_by_an_older_version_ends(domain, mailbox):
    a = Alias.objects.create(domain=domain, local_part="a", destinations=["b@example.org"])
    Alias.objects.create(domain=domain, local_part="b", destinations=["a@example.org"])
    actions.delete_alias(a, actor=COMMAND_LINE)
    assert not Alias.objects.filter(local_part__in=["a", "b"]).exists()


def test_alias_ladders_and_long_chains_render_and_the_rest_applies(sandbox_helper, domain, mailbox):
    """Rows made by an older version (or by hand): a 1000-alias chain and a 30-rung ladder.
    Each rung's two aliases deliver to both of the next rung: 2^30 paths, walked once."""
    rows = [Alias(domain=domain, local_part=f"c{n}", destinations=[f"c{n + 1}@example.org"]) for n in range(1000)]
    rows.append(Alias(domain=domain, local_part="c1000", destinations=["alice@example.org"]))
    for n in range(30):
        nxt = [f"x{n + 1}@example.org", f"y{n + 1}@example.org"] if n < 29 else ["alice@example.org"]
        rows += [
            Alias(domain=domain, local_part=f"x{n}", destinations=nxt),
            Alias(domain=domain, local_part=f"y{n}", destinations=nxt),
        ]
    Alias.objects.bulk_create(rows)
    actions.create_mailbox(domain, "bob", MAIL_PASSWORD, actor=COMMAND_LINE)
    generation = apply_pending(force=True)
    assert generation.ok, generation.error
    assert "bob@example.org" in users_file(sandbox_helper)
    table = virtuals(sandbox_helper)
    assert "c1000@example.org alice@example.org" in table and "c0@example.org" not in table
    assert "x29@example.org alice@example.org" in table and "x0@example.org" not in table
    left_out = {p["row"] for p in generation.problems}
    assert "alias c0@example.org" in left_out and "alias x0@example.org" in left_out


def test_disabling_a_domain_whose_alias_domain_has_an_active_key_keeps_every_apply_working(
    sandbox_helper, domain, other_domain
):
    alias_domain = domain_actions.create_domain("example.net", actor=COMMAND_LINE, alias_of=domain)
    key = domain_actions.create_dkim_key(alias_domain, actor=COMMAND_LINE)
    DkimKey.objects.filter(pk=key.pk).update(state=DkimKey.ACTIVE)
    assert apply_pending(force=True).ok
    domain_actions.update_domain(domain, actor=COMMAND_LINE, active=False)
    carol = actions.create_mailbox(other_domain, "carol", MAIL_PASSWORD, actor=COMMAND_LINE)
    generation = apply_pending(force=True)
    assert generation.ok, generation.error
    assert carol.ascii_address in users_file(sandbox_helper)


def test_a_row_the_renderer_refuses_is_named_on_its_domain_page_and_the_rest_applies(
    sandbox_helper, superadmin_client, domain, other_domain, mailbox
):
    Mailbox.objects.filter(pk=mailbox.pk).update(password_hash="{PLAIN}not-a-crypt-hash")  # an old import, say
    carol = actions.create_mailbox(other_domain, "carol", MAIL_PASSWORD, actor=COMMAND_LINE)
    generation = apply_pending(force=True)
    assert generation.ok, generation.error
    assert carol.ascii_address in users_file(sandbox_helper)
    assert "alice@example.org" not in users_file(sandbox_helper)
    assert generation.problems == [
        {
            "domain": "example.org",
            "row": "mailbox alice@example.org",
            "reason": "has no crypt(3) hash both daemons verify",
        }
    ]
    assert config_state().problems_of("example.org") == generation.problems
    page = superadmin_client.get("/domains/example.org/")
    assertContains(page, "Left out of the mail configuration")
    assertContains(page, "<code>mailbox alice@example.org</code>: has no crypt(3) hash both daemons verify", html=True)
    assertContains(superadmin_client.get("/domains/other.example/"), "leaving out 1 row")
