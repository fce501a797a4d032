from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from audit.log import COMMAND_LINE
from core.addresses import normalize_domain
from core.commands import raise_command_error
from core.quota import parse_quota
from domains import actions


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
