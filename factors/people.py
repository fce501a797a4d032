"""Who a second factor belongs to: an admin (a Django User) or a mailbox user (a Mailbox)."""

from dataclasses import dataclass

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

from accounts.models import Mailbox, User
from audit.log import Actor
from core.access import View
from domains.models import Domain


@dataclass(frozen=True)
class Person:
    user: User | None = None
    mailbox: Mailbox | None = None

    @property
    def owner(self) -> dict:
        """The Enrolment filter that finds this person's row."""
        return {"user": self.user} if self.user is not None else {"mailbox": self.mailbox}

    @property
    def sign_in_name(self) -> str:
        """The name they sign in with, and the throttle counts them by."""
        return self.user.username if self.user is not None else self.mailbox.ascii_address

    @property
    def shown_name(self) -> str:
        return self.user.username if self.user is not None else self.mailbox.address

    @property
    def is_admin(self) -> bool:
        return self.user is not None

    @property
    def domain(self) -> Domain | None:
        """The domain whose audit log shows this person's changes (none for an admin)."""
        return self.mailbox.domain if self.mailbox is not None else None

    @property
    def actor(self) -> Actor:
        if self.user is not None:
            return Actor(f"admin {self.user.username}", self.user)
        return Actor(f"mailbox {self.mailbox.ascii_address}")

    @property
    def audit_type(self) -> str:
        return "admin" if self.user is not None else "mailbox"

    def is_active(self) -> bool:
        if self.user is not None:
            return self.user.is_active
        return self.mailbox.active and self.mailbox.domain.active


def person_of(request: HttpRequest) -> Person | None:
    """The signed-in admin or mailbox user, or None."""
    if request.user.is_authenticated:
        return Person(user=request.user)
    if mailbox := getattr(request, "mailbox", None):
        return Person(mailbox=mailbox)
    return None


def person_required(view: View) -> View:
    """Pages every signed-in person has, admin or mailbox user: anonymous visitors sign in first."""

    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if person_of(request) is None:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper
