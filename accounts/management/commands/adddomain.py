from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from accounts.audit import COMMAND_LINE
from accounts.management.commands._input import raise_command_error
from domains import actions
from mailadmin.addresses import normalize_domain
from mailadmin.quota import parse_quota


class Command(BaseCommand):
    help = "Add a mail domain."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--quota", default="0", help="default quota for its mailboxes, e.g. 2G (0: unlimited)")

    def handle(self, name: str, quota: str, **options) -> None:
        try:
            domain = actions.create_domain(
                normalize_domain(name), actor=COMMAND_LINE, default_quota_mb=parse_quota(quota)
            )
        except ValidationError as e:
            raise_command_error(e)
        self.stdout.write(f"added domain {domain.name}")
