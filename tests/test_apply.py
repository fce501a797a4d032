"""Every committed change marks the configuration dirty; applies run one at a time, cover every
change made before them, and show their outcome in the panel."""

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from accounts import actions
from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from export.apply import apply_lock, apply_pending
from export.dirty import config_state
from export.models import ConfigState, Generation


def users_file(root: Path) -> str:
    return (root / "etc/dovecot/users").read_text()


def test_a_change_is_applied_once_and_then_there_is_nothing_to_do(
    sandbox_helper, domain, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        actions.create_mailbox(domain, "alice", "alice mail password", actor=COMMAND_LINE)
    assert config_state().pending == 1
    generation = apply_pending()
    assert generation.ok, generation.error
    assert "alice@example.org:::::::" in users_file(sandbox_helper)
    assert "alice@example.org:$y$" in (sandbox_helper / "etc/mailadmin/current/dovecot/passwords").read_text()
    assert config_state().pending == 0
    assert apply_pending() is None


def test_ten_quick_edits_are_covered_by_one_apply(sandbox_helper, domain, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(10):
            actions.create_mailbox(domain, f"user{n}", "a mail password 1", actor=COMMAND_LINE)
    assert config_state().pending == 10
    assert apply_pending().ok
    assert apply_pending() is None
    assert Generation.objects.count() == 1
    assert users_file(sandbox_helper).count("@example.org:") == 10


def test_a_rolled_back_change_marks_nothing(db, domain):
    state_before = config_state().wanted
    with pytest.raises(ValueError):
        from django.db import transaction

        with transaction.atomic():
            actions.create_mailbox(domain, "alice", "alice mail password", actor=COMMAND_LINE)
            raise ValueError("the request failed later")
    assert config_state().wanted == state_before


def test_applies_take_turns(sandbox_helper, domain):
    ConfigState.objects.update_or_create(pk=1, defaults={"wanted": 5})
    holding, release = threading.Event(), threading.Event()

    def another_apply() -> None:  # its own database connection, as another process would have
        try:
            with apply_lock() as held:
                assert held
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    other = threading.Thread(target=another_apply)
    other.start()
    assert holding.wait(10)
    try:
        assert apply_pending() is None  # someone else is applying; their run covers this change
    finally:
        release.set()
        other.join()
    assert apply_pending().ok  # the lock went with its holder


def test_a_helper_that_does_not_answer_is_reported_and_not_hammered(db, settings, tmp_path, domain):
    settings.HELPER_SOCKET = tmp_path / "nobody-home.sock"
    settings.STAGING_DIR = tmp_path / "staging"
    ConfigState.objects.update_or_create(pk=1, defaults={"wanted": 1})
    generation = apply_pending()
    assert not generation.ok and "the helper is not running" in generation.error
    assert apply_pending() is None  # the same state is retried later, not in a tight loop
    ConfigState.objects.filter(pk=1).update(wanted=2)
    assert apply_pending() is not None  # a new change is tried at once


def test_the_status_line_shows_the_outcome(superadmin_client, sandbox_helper, domain, mailbox):
    number = apply_pending(force=True).pk
    assertContains(superadmin_client.get("/"), f"Applied generation {number} at")
    actions.update_mailbox(mailbox, actor=COMMAND_LINE, display_name="changed")
    ConfigState.objects.filter(pk=1).update(wanted=config_state().wanted + 1)
    assertContains(superadmin_client.get("/"), f"1 change waiting to be applied; generation {number} is live.")


def test_the_config_page_previews_the_next_apply_without_secrets(superadmin_client, sandbox_helper, domain, mailbox):
    first = apply_pending(force=True).pk
    actions.create_mailbox(domain, "bob", "bob mail password", actor=COMMAND_LINE)
    page = superadmin_client.get("/config/")
    assertContains(page, "dovecot/users")
    assertContains(page, "dovecot/passwords")
    assertContains(page, "+bob@example.org:&lt;hash ")
    assertNotContains(page, "$y$")
    response = superadmin_client.post("/config/apply/", follow=True)
    assertContains(response, f"Applied generation {first + 1}.")
    assertContains(response, "Nothing: the installed files match the database.")
    assert "bob@example.org" in users_file(sandbox_helper)


def test_a_failed_apply_is_shown_with_its_reason(superadmin_client, db, settings, tmp_path, domain):
    settings.HELPER_SOCKET = tmp_path / "nobody-home.sock"
    settings.STAGING_DIR = tmp_path / "staging"
    response = superadmin_client.post("/config/apply/", follow=True)
    assertContains(response, "failed: the helper is not running")
    assertContains(superadmin_client.get("/"), "The last apply failed:")


def test_after_a_failed_apply_the_next_try_comes_within_seconds_then_less_often(db, settings, tmp_path, domain):
    settings.HELPER_SOCKET = tmp_path / "nobody-home.sock"
    settings.STAGING_DIR = tmp_path / "staging"
    ConfigState.objects.update_or_create(pk=1, defaults={"wanted": 1})
    assert not apply_pending().ok
    assert apply_pending() is None  # not in a tight loop
    ago = lambda seconds: timezone.now() - timedelta(seconds=seconds)  # noqa: E731
    ConfigState.objects.filter(pk=1).update(last_finished_at=ago(1.5))
    assert apply_pending() is not None  # one failure: the next try after a second
    ConfigState.objects.filter(pk=1).update(last_finished_at=ago(3), failures_in_a_row=5)
    assert apply_pending() is None  # five failures in a row: wait 16 s
    ConfigState.objects.filter(pk=1).update(last_finished_at=ago(61), failures_in_a_row=30)
    assert apply_pending() is not None  # never longer than a minute


def test_a_host_built_by_hand_is_not_replaced_until_a_superadmin_says_so(
    sandbox_helper, superadmin_client, domain, django_capture_on_commit_callbacks
):
    (sandbox_helper / "etc/smtpd").mkdir(parents=True)
    (sandbox_helper / "etc/smtpd/virtuals").write_text("bob@example.net vmail\n")

    generation = apply_pending(force=True)
    assert not generation.ok and "Adopt the host first" in generation.error
    assert config_state().hand_built == ["/etc/smtpd/virtuals"]
    page = superadmin_client.get("/config/")
    assertContains(page, "This host already serves mail from files built by hand")
    assertContains(page, "<code>/etc/smtpd/virtuals</code>")

    with django_capture_on_commit_callbacks(execute=True):
        superadmin_client.post("/config/replace-hand-built/")
    assert apply_pending().ok  # the confirmation marked the configuration for an apply
    assert (sandbox_helper / "etc/smtpd/virtuals.mailadmin-orig").read_text() == "bob@example.net vmail\n"
    assert config_state().hand_built == []
    assertNotContains(superadmin_client.get("/config/"), "This host already serves mail from files built by hand")
    assert AuditEntry.objects.filter(action="confirmed", object_type="configuration").exists()
