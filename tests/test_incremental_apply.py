"""A change to one mailbox's own lines (its password, quota, app passwords) renders only those
lines again and installs only the files that hold them; what is installed is always byte for
byte what a full render of the database gives. Anything else renders everything."""

import os
import random

import pytest

from accounts import actions
from accounts.models import AppPassword, Mailbox
from audit.log import COMMAND_LINE
from core.mailhost import host_config
from domains.actions import create_domain
from export import apply as apply_module
from export.apply import apply_pending
from export.models import Change, ConfigState
from export.render import render_vetted, vet
from export.snapshot import take_snapshot
from export.stage import staged_dir

pytestmark = pytest.mark.django_db(transaction=True)


def installed(root) -> dict[str, bytes]:
    current = root / "etc/mailadmin/current"
    return {
        str(p.relative_to(current)): p.read_bytes()
        for p in current.rglob("*")
        if p.is_file() and p.name != "GENERATION"
    }


def full_render() -> dict[str, bytes]:
    host = host_config()
    return render_vetted(vet(take_snapshot(), host), host)


@pytest.fixture
def host(sandbox_helper, monkeypatch):
    domain = create_domain("example.org", actor=COMMAND_LINE)
    other = create_domain("example.net", actor=COMMAND_LINE)
    for local in ["alice", "bob", "carol"]:
        actions.create_mailbox(domain, local, f"{local} mail password", actor=COMMAND_LINE, quota_mb=100)
    actions.create_mailbox(other, "dave", "dave mail password", actor=COMMAND_LINE)
    actions.create_alias(domain, "team", ["alice@example.org", "bob@example.org"], actor=COMMAND_LINE)
    assert apply_pending(force=True).ok
    snapshots = []
    real = apply_module.take_snapshot
    monkeypatch.setattr(apply_module, "take_snapshot", lambda: snapshots.append(1) or real())
    return {"root": sandbox_helper, "full_renders": snapshots}


def mailbox(local: str) -> Mailbox:
    return Mailbox.objects.select_related("domain").get(local_part=local)


def test_a_password_change_renders_and_installs_only_the_password_file(host):
    root = host["root"]
    before = {rel: os.stat(root / "etc/mailadmin/current" / rel).st_ino for rel in installed(root)}
    actions.set_mailbox_password(mailbox("bob"), "bob's new password", actor=COMMAND_LINE)
    generation = apply_pending()
    assert generation.ok and generation.changed == ["dovecot/passwords"]
    assert host["full_renders"] == []  # the database was not read whole
    assert installed(root) == full_render()
    after = {rel: os.stat(root / "etc/mailadmin/current" / rel).st_ino for rel in installed(root)}
    # Every other installed file is the previous generation's own, linked; staged ones too.
    assert {rel for rel in after if after[rel] != before[rel]} == {"dovecot/passwords"}
    staged = staged_dir(generation.pk) / "files/smtpd/virtuals"
    assert staged.stat().st_nlink > 1
    assert not Change.objects.exists()


def test_each_kind_of_mailbox_change_gives_what_a_full_render_gives(host):
    root = host["root"]
    alice, bob, dave = mailbox("alice"), mailbox("bob"), mailbox("dave")
    steps = [
        lambda: actions.update_mailbox(alice, actor=COMMAND_LINE, quota_mb=2048),
        lambda: actions.update_mailbox(alice, actor=COMMAND_LINE, display_name="Alice"),
        lambda: actions.create_app_password(bob, "phone", actor=COMMAND_LINE),
        lambda: actions.create_app_password(bob, "laptop", actor=COMMAND_LINE),
        lambda: actions.create_app_password(dave, "phone", actor=COMMAND_LINE),
        lambda: actions.set_app_passwords_only(bob, True, actor=COMMAND_LINE),
        lambda: actions.revoke_app_password(AppPassword.objects.get(mailbox=bob, name="phone"), actor=COMMAND_LINE),
        lambda: actions.set_app_passwords_only(bob, False, actor=COMMAND_LINE),
        lambda: actions.set_mailbox_password(dave, "dave's second password", actor=COMMAND_LINE),
    ]
    for step in steps:
        step()
        assert apply_pending().ok
        assert installed(root) == full_render()
    assert host["full_renders"] == []


def test_changes_to_more_than_a_mailbox_s_own_lines_render_everything(host):
    root = host["root"]
    actions.set_mailbox_password(mailbox("alice"), "alice's new password", actor=COMMAND_LINE)
    actions.update_mailbox(mailbox("carol"), actor=COMMAND_LINE, active=False)  # leaves the tables
    assert apply_pending().ok
    assert host["full_renders"] == [1]
    assert installed(root) == full_render()
    # A keyed change to a mailbox that is gone by the apply cannot be shown alone either.
    bob = mailbox("bob")
    actions.set_mailbox_password(bob, "bob's new password", actor=COMMAND_LINE)
    actions.delete_mailbox(bob, actor=COMMAND_LINE)
    assert apply_pending().ok
    assert host["full_renders"] == [1, 1]
    assert installed(root) == full_render()


def test_an_apply_by_another_process_makes_this_one_render_everything(host):
    ConfigState.objects.filter(pk=1).update(renderer="someone else")  # "Apply now" in the web process
    actions.set_mailbox_password(mailbox("alice"), "alice's new password", actor=COMMAND_LINE)
    assert apply_pending().ok
    assert host["full_renders"] == [1]
    assert installed(host["root"]) == full_render()


def test_apply_now_renders_everything(host):
    assert apply_pending(force=True).ok
    assert host["full_renders"] == [1]


def test_a_random_run_of_changes_always_installs_the_full_render(host):
    root, rng = host["root"], random.Random(20261201)
    names = ["alice", "bob", "carol", "dave"]
    for round_ in range(30):
        for _ in range(rng.randint(1, 3)):
            who = mailbox(rng.choice(names))
            kind = rng.randrange(5)
            if kind == 0:
                actions.set_mailbox_password(who, f"password {round_} {rng.random()}", actor=COMMAND_LINE)
            elif kind == 1:
                actions.update_mailbox(who, actor=COMMAND_LINE, quota_mb=rng.choice([0, 50, 100, 5000]))
            elif kind == 2 and who.app_passwords.count() < 10:
                actions.create_app_password(who, f"device {round_} {rng.random()}"[:40], actor=COMMAND_LINE)
            elif kind == 3 and (made := who.app_passwords.first()) and not who.app_passwords_only:
                actions.revoke_app_password(made, actor=COMMAND_LINE)
            elif kind == 4:
                actions.update_mailbox(who, actor=COMMAND_LINE, active=not who.active)
        generation = apply_pending()  # None when the round changed nothing
        assert generation is None or generation.ok
        assert installed(root) == full_render(), f"round {round_}"
    assert 0 < len(host["full_renders"]) < 30  # some rounds switched a mailbox off or on
