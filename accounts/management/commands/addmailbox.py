from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from accounts import actions
from accounts.models import Mailbox
from audit.log import COMMAND_LINE
from core.addresses import normalize_address
from core.commands import raise_command_error, read_password
from core.quota import parse_quota
from domains.models import Domain


class Command(BaseCommand):
    help = "Add a mailbox. Its mail password is read from standard input."

    def add_arguments(self, parser) -> None:
        parser.add_argument("address")
        parser.add_argument("--name", default="", help="display name")
        parser.add_argument("--quota", default=None, help="e.g. 2G (default: the domain's default quota)")

    def handle(self, address: str, name: str, quota: str | None, **options) -> None:
        password = read_password()
        try:
            local_part, domain_name = normalize_address(address, allow_plus=False).split("@")
            domain = Domain.objects.filter(name=domain_name).first()
            if domain is None:
                raise ValidationError(f"the domain {domain_name} does not exist; add it first with adddomain")
            password_validation.validate_password(password, Mailbox(local_part=local_part, display_name=name))
            mailbox = actions.create_mailbox(
                domain,
                local_part,
                password,
                actor=COMMAND_LINE,
                display_name=name,
                quota_mb=None if quota is None else parse_quota(quota),
            )
        except ValidationError as e:
            raise_command_error(e)
        self.stdout.write(f"added mailbox {mailbox.ascii_address}")
