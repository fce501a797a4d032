from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.sessions import mailbox_from_session


class MailboxSessionMiddleware:
    """Sets request.mailbox: the signed-in mailbox user, or None."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.mailbox = mailbox_from_session(request)
        return self.get_response(request)
