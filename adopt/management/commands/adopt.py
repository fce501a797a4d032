import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.views.decorators.debug import sensitive_variables

from adopt import actions
from adopt.reading import Paths, read_host
from adopt.report import PLAN_WORDS, UNCHANGED
from adopt.report import dry_run as judge
from adopt.sources import Archive, Directory, SourceError
from audit.log import Actor
from core.commands import asked_yes

DEFAULTS = Paths()


class Command(BaseCommand):
    help = (
        "Adopt a mail host built by hand from the guide: read its Dovecot users, OpenSMTPD tables and Rspamd DKIM keys, "
        "say what would be created and what the panel cannot do the same way, then, with --yes or when you answer "
        "yes, create it all (one apply at the end). Run it on the host itself (the default), on a copy of its files "
        "(--root) or on an archive of them (--archive)."
    )

    def add_arguments(self, parser) -> None:
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--root", default="/", help="read the host's files below this directory (default /)")
        where.add_argument("--archive", help="read them from this tar archive (- for standard input)")
        parser.add_argument("--smtpd-conf", default=DEFAULTS.smtpd_conf, help=f"default {DEFAULTS.smtpd_conf}")
        parser.add_argument("--dovecot-conf", default=DEFAULTS.dovecot_conf, help=f"default {DEFAULTS.dovecot_conf}")
        parser.add_argument(
            "--dkim-signing-conf", default=DEFAULTS.dkim_signing, help=f"default {DEFAULTS.dkim_signing}"
        )
        parser.add_argument("--dry-run", action="store_true", help="only say what would be adopted")
        parser.add_argument("--yes", action="store_true", help="adopt without asking, unless something is an error")

    @sensitive_variables("reading", "planned")
    def handle(self, *, root: str, archive: str | None, dry_run: bool, yes: bool, verbosity: int, **options) -> None:
        paths = Paths(options["smtpd_conf"], options["dovecot_conf"], options["dkim_signing_conf"])
        try:
            source = Archive(self._read(archive), archive) if archive else Directory(root)
        except SourceError as e:
            raise CommandError(str(e)) from None
        reading = read_host(source, paths)
        planned = judge(reading, None)
        report = planned.report
        for file in report.files:
            self.stdout.write(f"read {file.path}: {file.what}, {file.entries:,} entries")
        for title, findings in [("error", report.errors), ("changes", report.changes), ("note", report.notes)]:
            for finding in findings:
                self.stdout.write(f"{title}: {finding.subject} ({finding.where}): {finding.message}")
        for item in report.items:
            if item.plan == "error" or verbosity > 1 or (verbosity == 1 and item.plan != UNCHANGED):
                message = f": {item.message}" if item.message else ""
                self.stdout.write(f"{item.where}: {PLAN_WORDS[item.plan]} {item.kind} {item.shown}{message}")
        counts = report.counts
        self.stdout.write(
            f"{len(report.items):,} items: {counts.get('create', 0):,} to create, {counts.get('change', 0):,} to change, "
            f"{counts.get('unchanged', 0):,} unchanged, {counts.get('error', 0) + len(report.errors):,} errors, "
            f"{len(report.changes):,} changes in how the host behaves"
        )
        if report.blocked:
            raise CommandError(
                "Nothing was adopted: fix the errors above (on the host, or in the panel) and run again."
            )
        if dry_run:
            return
        if not yes and not asked_yes("Adopt this host?"):
            raise CommandError("Nothing was adopted (run with --yes to adopt without asking).")
        try:
            done = actions.adopt(planned, reading, actor=Actor("command line, adoption"))
        except ValidationError as e:
            raise CommandError(" ".join(e.messages)) from None
        self.stdout.write(
            f"adopted: {done.created:,} created, {done.changed:,} changed, {done.keys:,} DKIM keys, "
            f"{done.homes:,} mailboxes keep their mail where it is; the apply worker installs it all at once"
        )

    def _read(self, archive: str) -> bytes:
        try:
            if archive == "-":
                return sys.stdin.buffer.read()
            with open(archive, "rb") as f:
                return f.read()
        except OSError as e:
            raise CommandError(f"cannot read {archive}: {e.strerror}") from None
