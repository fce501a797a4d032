from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.models import Mailbox
from accounts.sessions import mailbox_from_session
from core.http import HtmxHttpRequest


class MailboxSessionMiddleware:
    """Sets request.mailbox: the signed-in mailbox user, or None."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.mailbox = mailbox_from_session(request)
        return self.get_response(request)


class MailboxHttpRequest(HtmxHttpRequest):
    """A request after MailboxSessionMiddleware: `mailbox` is the signed-in mailbox user, or None."""

    mailbox: Mailbox | None
