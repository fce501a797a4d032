"""Running an import: hashing, writing through the actions, one apply, and what a crash leaves.

The runner's steps are called directly here, in the test's thread (as the command line runs
them); tests/test_transfer_views.py runs them in the web process's threads."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts import actions, mailpasswords
from accounts.models import Address, Alias, Mailbox
from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from domains.models import Domain
from export.models import Change
from transfer import runner
from transfer.csvformat import read
from transfer.models import ImportJob, ImportLine
from transfer.plan import plan

HEADER = "type,address,name,quota,active,password,destinations"
SECRET = "the plain text 4 bob"


def checked(user, *lines: str, confirmed: bool = False):
    result = plan(read("\n".join([HEADER, *lines]).encode()), user)
    job = runner.create_job(result, owner=user, file_name="people.csv", confirmed=confirmed)
    return job, result.plain_texts


def finish(job: ImportJob, plain_texts: dict[int, str]) -> ImportJob:
    """As the threads do: hash, confirm, write."""
    if job.state == ImportJob.HASHING:
        runner.hash_passwords(job.pk, plain_texts)
    if runner.confirm(job):
        runner.write(job.pk)
    job.refresh_from_db()
    return job


def test_it_imports_through_the_actions_with_the_import_in_the_audit_log(superadmin, domain):
    kept = mailpasswords.make_hash("a password bob keeps")
    job, plain_texts = checked(
        superadmin,
        "domain,new.example,,2G,yes,,",
        f"mailbox,bob@example.org,Bob,1G,yes,{kept},",
        f"mailbox,carol@new.example,Carol,,yes,{SECRET},",
        "alias,info@new.example,,,yes,,carol@new.example bob@example.org",
    )
    assert (job.state, job.to_hash) == (ImportJob.HASHING, 1)
    job = finish(job, plain_texts)
    assert (job.state, job.results, job.written) == (ImportJob.DONE, {"created": 4}, 4)
    bob = Mailbox.objects.get(local_part="bob")
    assert bob.password_hash == kept  # kept as given: bob keeps his password
    carol = Mailbox.objects.get(local_part="carol")
    assert mailpasswords.check_hash(SECRET, carol.password_hash) and carol.quota_mb == 2048
    assert Alias.objects.get(local_part="info").destinations == ["carol@new.example", "bob@example.org"]
    assert Domain.objects.get(name="new.example").dkim_keys.count() == 1  # as the domain form makes it
    entries = AuditEntry.objects.filter(actor_name="admin root, CSV import")
    assert sorted(entries.values_list("action", "object_type", "object_name")) == [
        ("created", "DKIM key", entries.get(object_type="DKIM key").object_name),
        ("created", "alias", "info@new.example"),
        ("created", "domain", "new.example"),
        ("created", "mailbox", "bob@example.org"),
        ("created", "mailbox", "carol@new.example"),
        ("imported", "CSV file", "people.csv"),
    ]


def test_it_changes_what_the_dry_run_said_it_would(superadmin, mailbox):
    job, plain_texts = checked(superadmin, f"mailbox,alice@example.org,Alice L.,3G,no,{SECRET},")
    job = finish(job, plain_texts)
    assert job.results == {"changed": 1}
    mailbox.refresh_from_db()
    assert (mailbox.display_name, mailbox.quota_mb, mailbox.active) == ("Alice L.", 3072, False)
    assert mailpasswords.check_hash(SECRET, mailbox.password_hash)


def test_the_whole_import_marks_the_configuration_dirty_once(superadmin, domain, django_capture_on_commit_callbacks):
    lines = [f"mailbox,user{n}@example.org,,,,{mailpasswords.DUMMY_HASH}," for n in range(runner.BATCH * 2 + 5)]
    job, plain_texts = checked(superadmin, "domain,new.example,,,,,", *lines)
    changes = Change.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = finish(job, plain_texts)
    assert job.results == {"created": len(lines) + 1}
    assert Change.objects.count() - changes == 1  # one full render: one apply
    assert Change.objects.latest("pk").mailbox_id is None
    assert len([c for c in callbacks if c.__name__ == "_bump"]) == 1


def test_an_import_that_changes_nothing_does_not_mark_anything(superadmin, mailbox):
    job, plain_texts = checked(superadmin, "mailbox,alice@example.org,Alice Liddell,,,,")
    changes = Change.objects.count()
    job = finish(job, plain_texts)
    assert (job.state, job.results) == (ImportJob.DONE, {"unchanged": 1})
    assert Change.objects.count() == changes


def test_a_line_refused_when_written_fails_alone_and_leaves_nothing(superadmin, domain, mailbox):
    job, plain_texts = checked(
        superadmin,
        f"mailbox,bob@example.org,,,,{SECRET},",
        f"mailbox,carol@example.org,,,,{mailpasswords.DUMMY_HASH},",
        "alias,team@example.org,,,,,bob@example.org",
    )
    # Someone takes carol@ between the dry run and the writing.
    actions.create_alias(domain, "carol", ["alice@example.org"], actor=COMMAND_LINE)
    entries = AuditEntry.objects.count()
    job = finish(job, plain_texts)
    assert job.results == {"created": 2, "failed": 1}
    carol = job.lines.get(number=3)
    assert (carol.outcome, carol.outcome_message) == ("failed", "carol@example.org is already an alias.")
    assert not Mailbox.objects.filter(local_part="carol").exists()
    assert Address.objects.filter(local_part="carol").count() == 1  # the alias's, nothing half-written
    assert not AuditEntry.objects.filter(object_name="carol@example.org", object_type="mailbox").exists()
    assert AuditEntry.objects.count() - entries == 3  # bob, team, and the import itself
    assert Mailbox.objects.filter(local_part="bob").exists() and Alias.objects.filter(local_part="team").exists()


def test_plain_texts_never_reach_the_database(superadmin, domain):
    secrets = [f"plain text number {n} xyz" for n in range(3)]
    job, plain_texts = checked(superadmin, *[f"mailbox,user{n}@example.org,,,,{s}," for n, s in enumerate(secrets)])
    sent = []
    with connection.execute_wrapper(
        lambda execute, sql, params, many, context: sent.append((sql, params)) or execute(sql, params, many, context)
    ):
        job = finish(job, plain_texts)
    assert job.results == {"created": 3} and plain_texts == {}
    assert not [s for s in secrets if s in repr(sent)]
    dump = repr(list(ImportJob.objects.values())) + repr(list(ImportLine.objects.values()))
    dump += repr(list(AuditEntry.objects.values()))
    assert not [s for s in secrets if s in dump]


def test_hashes_are_wiped_when_the_import_ends(superadmin, domain):
    job, plain_texts = checked(superadmin, f"mailbox,bob@example.org,,,,{SECRET},")
    runner.hash_passwords(job.pk, plain_texts)
    assert ImportLine.objects.get(job=job).password_hash.startswith("$y$")
    finish(job, {})
    assert ImportLine.objects.get(job=job).password_hash == ""


def test_a_refused_file_keeps_only_its_report(superadmin, domain):
    kept = mailpasswords.make_hash("x")
    job, plain_texts = checked(superadmin, f"mailbox,bob@example.org,,,,{kept},", "mailbox,bad:x@example.org,,,,y,")
    assert job.state == ImportJob.REFUSED and plain_texts == {}
    assert list(job.lines.values_list("password_hash", flat=True)) == ["", ""]
    assert not runner.confirm(job) and not runner.claim(job.pk)
    assert not Mailbox.objects.filter(local_part="bob").exists()


def test_writing_waits_for_the_confirmation_and_for_the_hashes(superadmin, domain):
    job, plain_texts = checked(superadmin, f"mailbox,bob@example.org,,,,{SECRET},")
    assert not runner.claim(job.pk)  # neither confirmed nor hashed
    assert not runner.confirm(job)  # confirmed, still hashing: the hashing thread will write
    runner.hash_passwords(job.pk, plain_texts)  # ...and it does
    job.refresh_from_db()
    assert job.state == ImportJob.DONE and Mailbox.objects.filter(local_part="bob").exists()


def test_a_cancelled_import_stops_hashing_and_writes_nothing(superadmin, domain):
    job, plain_texts = checked(superadmin, *[f"mailbox,u{n}@example.org,,,,{SECRET} {n}," for n in range(3)])
    assert runner.cancel(job)
    runner.hash_passwords(job.pk, plain_texts)
    job.refresh_from_db()
    assert (job.state, job.hashed) == (ImportJob.CANCELLED, 0) and plain_texts == {}
    assert not Mailbox.objects.filter(local_part__startswith="u").exists()


def stale(job: ImportJob, by: timedelta = runner.STALE) -> None:
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - by - timedelta(seconds=1))
    job.refresh_from_db()


def test_a_crash_while_hashing_loses_the_plain_texts_and_writes_nothing(superadmin, domain):
    job, plain_texts = checked(
        superadmin, f"mailbox,bob@example.org,,,,{SECRET},", "alias,x@example.org,,,,,a@b.example"
    )
    stale(job)  # the web process died before its thread hashed anything
    job = runner.look(job)
    assert job.state == ImportJob.LOST and job.finished_at
    assert not runner.confirm(job) and not runner.resume(job)
    assert not Mailbox.objects.filter(local_part="bob").exists()
    runner.hash_passwords(job.pk, plain_texts)  # a thread still alive would stop at its next save
    assert ImportLine.objects.filter(job=job).exclude(password_hash="").count() == 0


def test_a_crash_while_writing_keeps_what_is_written_and_can_continue(superadmin, domain, mailbox):
    lines = [f"mailbox,user{n:03d}@example.org,,,,{mailpasswords.DUMMY_HASH}," for n in range(runner.BATCH + 20)]
    job, plain_texts = checked(superadmin, *lines, confirmed=True)
    assert runner.claim(job.pk)
    assert runner._write_batch(job.pk)  # one batch, then the process dies
    changes = Change.objects.count()
    stale(job)
    job = runner.look(job)
    assert (job.state, job.written) == (ImportJob.INTERRUPTED, runner.BATCH)
    assert Change.objects.count() == changes + 1  # what was written is applied
    assert runner.ranges(runner.not_written(job)) == f"{runner.BATCH + 2}–{runner.BATCH + 21}"
    assert ImportLine.objects.filter(job=job).exclude(password_hash="").count() == len(lines)  # kept to continue
    assert runner.resume(job)
    runner.write(job.pk)
    job.refresh_from_db()
    assert (job.state, job.results) == (ImportJob.DONE, {"created": len(lines)})
    assert Mailbox.objects.filter(local_part__startswith="user").count() == len(lines)


def test_an_interrupted_import_can_stop_where_it_is(superadmin, domain):
    job, _ = checked(superadmin, f"mailbox,bob@example.org,,,,{mailpasswords.DUMMY_HASH},", confirmed=True)
    runner.claim(job.pk)
    stale(job)
    job = runner.look(job)
    assert runner.cancel(job)
    job.refresh_from_db()
    assert job.state == ImportJob.CANCELLED and not job.lines.exclude(password_hash="").exists()


def test_a_batch_written_after_another_process_found_the_job_dead_is_rolled_back(superadmin, domain):
    job, _ = checked(
        superadmin,
        f"mailbox,bob@example.org,,,,{mailpasswords.DUMMY_HASH},",
        "alias,x@example.org,,,,,bob@example.org",
        confirmed=True,
    )
    runner.claim(job.pk)
    # Found dead (a stall longer than STALE) just before this batch commits: its lines roll back.
    original = runner._save_end

    def found_dead_first(job, state):
        ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.INTERRUPTED)
        return original(job, state)

    runner._save_end = found_dead_first
    try:
        runner.write(job.pk)
    finally:
        runner._save_end = original
    job.refresh_from_db()
    # (The other process's update is rolled back too here, sharing the test's one connection.)
    assert (job.written, job.results) == (0, {})
    assert not Mailbox.objects.filter(local_part="bob").exists()
    assert not Alias.objects.filter(local_part="x").exists()


def test_a_dry_run_not_confirmed_within_an_hour_expires(superadmin, domain):
    job, plain_texts = checked(superadmin, f"mailbox,bob@example.org,,,,{SECRET},")
    runner.hash_passwords(job.pk, plain_texts)
    job.refresh_from_db()
    stale(job, runner.EXPIRE)
    job = runner.look(job)
    assert job.state == ImportJob.CANCELLED and "Not confirmed within an hour" in job.error
    assert not job.lines.exclude(password_hash="").exists()


def test_rights_are_checked_again_when_the_lines_are_written(domain_admin, domain):
    job, plain_texts = checked(domain_admin, f"mailbox,bob@example.org,,,,{mailpasswords.DUMMY_HASH},")
    domain_admin.domains.clear()
    job = finish(job, plain_texts)
    line = job.lines.get()
    assert (line.outcome, line.outcome_message) == ("failed", "example.org is not one of your domains.")
    assert not Mailbox.objects.filter(local_part="bob").exists()


def test_an_admin_disabled_meanwhile_stops_the_import(domain_admin, domain):
    job, plain_texts = checked(domain_admin, f"mailbox,bob@example.org,,,,{mailpasswords.DUMMY_HASH},")
    domain_admin.is_active = False
    domain_admin.save()
    job = finish(job, plain_texts)
    assert job.state == ImportJob.FAILED and "was disabled" in job.error
    assert not Mailbox.objects.filter(local_part="bob").exists()


def test_finished_imports_are_kept_a_month(superadmin, domain):
    job, _ = checked(superadmin, "mailbox,bad:x@example.org,,,,y,")
    ImportJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - runner.KEEP - timedelta(days=1))
    runner.prune()
    assert not ImportJob.objects.filter(pk=job.pk).exists()


@pytest.mark.parametrize(
    ("numbers", "text"), [([], ""), ([3], "3"), ([3, 4, 5, 7, 9, 10], "3–5, 7, 9–10"), ([999, 1000, 1001], "999–1,001")]
)
def test_line_numbers_are_written_as_ranges(numbers, text):
    assert runner.ranges(numbers) == text
