from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from accounts import actions
from accounts.forms import clean_admin_name
from accounts.models import User
from audit.log import COMMAND_LINE
from core.addresses import normalize_domain
from core.commands import raise_command_error, read_password
from domains.models import Domain


class Command(BaseCommand):
    help = "Create a panel admin. The password is read from standard input."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--superadmin", action="store_true", help="manage every domain and admin")
        parser.add_argument("--domain", action="append", default=[], help="a domain this admin manages (repeatable)")

    def handle(self, username: str, superadmin: bool, domain: list[str], **options) -> None:
        try:
            # The admin form's rule, checked before the password is asked for.
            username = clean_admin_name(username)
        except ValidationError as e:
            raise_command_error(ValidationError({"username": e.messages}))
        password = read_password()
        try:
            domains = [Domain.objects.get(name=normalize_domain(name)) for name in domain]
            password_validation.validate_password(password, User(username=username))
            actions.create_admin(username, password, actor=COMMAND_LINE, superadmin=superadmin, domains=domains)
        except Domain.DoesNotExist:
            raise_command_error(ValidationError("one of the --domain names does not exist"))
        except ValidationError as e:
            raise_command_error(e)
        self.stdout.write(f"created {'superadmin' if superadmin else 'admin'} {username}")
