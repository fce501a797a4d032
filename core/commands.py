import getpass
import sys

from django.core.management.base import CommandError


def read_password(prompt: str = "Password: ") -> str:
    """The password from standard input (one line), never from the command line where `ps` shows it."""
    if sys.stdin.isatty():
        password = getpass.getpass(prompt)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CommandError("no password given on standard input")
    return password


def asked_yes(question: str) -> bool:
    """A person at a terminal answered yes; never yes without a terminal (a script says --yes)."""
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def raise_command_error(error) -> None:
    messages = getattr(error, "message_dict", None)
    if messages:
        raise CommandError("; ".join(f"{field}: {' '.join(m)}" for field, m in messages.items()))
    raise CommandError(" ".join(error.messages))
