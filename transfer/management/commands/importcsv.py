import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.views.decorators.debug import sensitive_variables

from core.commands import asked_yes
from transfer import csvformat, runner
from transfer.models import ImportJob, ImportLine
from transfer.plan import plan


def _lines(n: int) -> str:
    return f"{n:,} line{'' if n == 1 else 's'}"


PLANS = {"create": "will create", "change": "will change", "unchanged": "unchanged", "error": "error"}


class Command(BaseCommand):
    help = (
        "Import domains, mailboxes and aliases from a CSV file (the format exportcsv writes): first a dry run of "
        "every line, then, with --yes or when you answer yes, the import (passwords hashed, one apply at the end)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="the CSV file, or - for standard input")
        parser.add_argument("--dry-run", action="store_true", help="only say what each line would do")
        parser.add_argument("--yes", action="store_true", help="import without asking, unless a line has an error")

    @sensitive_variables("data", "result")
    def handle(self, file: str, dry_run: bool, yes: bool, verbosity: int, **options) -> None:
        data = self._read(file)
        try:
            result = plan(csvformat.read(data), None)
        except csvformat.FileError as e:
            raise CommandError(str(e)) from None
        del data
        for line in result.lines:
            if line.plan == ImportLine.ERROR or verbosity > 1 or (verbosity == 1 and line.plan != ImportLine.UNCHANGED):
                message = f": {line.message}" if line.message else ""
                self.stdout.write(f"line {line.number}: {PLANS[line.plan]} {line.kind} {line.shown}{message}")
        counts = result.counts
        self.stdout.write(
            f"{len(result.lines):,} lines: {counts.get('create', 0):,} to create, {counts.get('change', 0):,} to change, "
            f"{counts.get('unchanged', 0):,} unchanged, {counts.get('error', 0):,} with errors"
        )
        if counts.get("error"):
            raise CommandError(f"{_lines(counts['error'])} with errors: nothing was written. Fix them and run again.")
        if dry_run:
            return
        if not yes and not asked_yes("Import these lines?"):
            raise CommandError("Nothing was written (run with --yes to import without asking).")
        job = runner.create_job(result, owner=None, file_name=file, confirmed=True)
        self._run(job, result.plain_texts)

    def _read(self, file: str) -> bytes:
        limit = csvformat.MAX_BYTES + 1  # one byte more: a larger file is refused with its size
        try:
            if file == "-":
                binary = getattr(sys.stdin, "buffer", None)  # a text stream when called from Python
                return binary.read(limit) if binary else sys.stdin.read(limit).encode()
            with open(file, "rb") as f:
                return f.read(limit)
        except OSError as e:
            raise CommandError(f"cannot read {file}: {e.strerror}") from None

    def _run(self, job: ImportJob, plain_texts: dict[int, str]) -> None:
        started = time.monotonic()
        if job.state == ImportJob.HASHING:
            self.stdout.write(f"hashing {job.to_hash:,} passwords…")
            runner.hash_passwords(job.pk, plain_texts, progress=self._progress)
        elif runner.claim(job.pk):
            runner.write(job.pk)
        job.refresh_from_db()
        for line in job.lines.filter(outcome=ImportLine.FAILED):
            self.stderr.write(f"line {line.number}: failed {line.kind} {line.shown}: {line.outcome_message}")
        results = job.results
        self.stdout.write(
            f"{job.get_state_display()} in {time.monotonic() - started:.1f} s: {results.get('created', 0):,} created, "
            f"{results.get('changed', 0):,} changed, {results.get('unchanged', 0):,} unchanged, "
            f"{results.get('failed', 0):,} failed"
        )
        if job.state != ImportJob.DONE:
            raise CommandError(job.error or f"the import is {job.get_state_display()}")
        if results.get("failed"):
            raise CommandError(f"{_lines(results['failed'])} failed (each wrote nothing); the others are imported.")

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - getattr(self, "_said_at", 0) >= 10:
            self._said_at = now
            self.stdout.write(f"  {done:,} of {total:,} hashed")
