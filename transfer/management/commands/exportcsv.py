import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from audit.log import COMMAND_LINE, record
from core.addresses import normalize_domain
from domains.models import Domain
from transfer import csvformat, exporting


class Command(BaseCommand):
    help = "Export domains, mailboxes and aliases as CSV, in the format importcsv reads (to standard output)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--domain", action="append", default=[], help="only this domain (repeat for more)")
        parser.add_argument("--hashes", action="store_true", help="include the mailboxes' password hashes")
        parser.add_argument("--output", "-o", help="write to this file (created readable by its owner only)")

    def handle(self, domain: list[str], hashes: bool, output: str | None, **options) -> None:
        domains = Domain.objects.all()
        if domain:
            try:
                names = [normalize_domain(name) for name in domain]
            except ValidationError as e:
                raise CommandError(" ".join(e.messages)) from None
            missing = sorted(set(names) - set(Domain.objects.filter(name__in=names).values_list("name", flat=True)))
            if missing:
                raise CommandError(f"no such domain: {', '.join(missing)}")
            domains = domains.filter(name__in=names)
        if hashes:
            record(
                COMMAND_LINE,
                "exported",
                "CSV file",
                ", ".join(domain) or "all domains",
                domain=None,
                changes={"hashes": [None, True]},
            )
        pieces = csvformat.write(exporting.rows(domains, hashes=hashes))
        if output is None:
            for piece in pieces:
                self.stdout.write(piece, ending="")
            return
        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as e:
            raise CommandError(f"cannot write {output}: {e.strerror}") from None
        os.fchmod(fd, 0o600)  # a file that existed keeps its mode otherwise
        with open(fd, "w", encoding="utf-8", newline="") as f:
            for piece in pieces:
                f.write(piece)
        self.stderr.write(f"wrote {output}")
