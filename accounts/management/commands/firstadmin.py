import os
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from accounts import actions
from accounts.forms import clean_admin_name
from accounts.models import User
from audit.log import COMMAND_LINE
from core.commands import raise_command_error


def sign_in_url() -> str:
    """Where the new admin signs in: the public name behind the TLS proxy in production, the
    development server's address otherwise."""
    if settings.PRODUCTION:
        host = next((h for h in settings.ALLOWED_HOSTS if h and not h.startswith(".") and h != "*"), None)
        return f"https://{host}/" if host else "the panel's address"
    return f"http://{os.environ.get('MAILADMIN_LISTEN', '127.0.0.1:8000')}/"


class Command(BaseCommand):
    help = "Create the first superadmin with a random password and print its login, once. Does nothing if a superadmin exists."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, username: str, **options) -> None:
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("A superadmin exists already; no new login created.")
            return
        try:
            username = clean_admin_name(username)  # the admin form's rule
        except ValidationError as e:
            raise_command_error(ValidationError({"username": e.messages}))
        password = secrets.token_urlsafe(15)
        actions.create_admin(username, password, actor=COMMAND_LINE, superadmin=True)
        self.stdout.write(
            self.style.SUCCESS(
                f"\nFirst superadmin created. Sign in at {sign_in_url()} with\n"
                f"    name:     {username}\n    password: {password}\n"
                f"This password is shown only now.\n"
            )
        )
