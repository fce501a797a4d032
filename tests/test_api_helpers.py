"""What the API tests share: a token for a persona, and a client that sends it."""

import json

from django.test import Client

from accounts.models import User
from api.actions import create_token
from audit.log import COMMAND_LINE
from domains.models import Domain


def token_for(
    user: User, *, writes: bool = True, domains: list[Domain] | None = None, name: str = "script", **kwargs
) -> str:
    _, text = create_token(
        user, name, actor=COMMAND_LINE, writes=writes, domains=domains, expires_at=kwargs.get("expires_at")
    )
    return text


class ApiClient(Client):
    """Django's test client with a token, sending JSON."""

    def __init__(self, token: str | None = None, **kwargs) -> None:
        super().__init__(headers={"Authorization": f"Bearer {token}"} if token else {}, **kwargs)

    def send(self, method: str, url: str, data: dict | None = None):
        if method == "GET":
            return self.get(url)
        call = getattr(self, method.lower())
        return call(url, json.dumps(data or {}), content_type="application/json")


def api_as(user: User, **kwargs) -> ApiClient:
    return ApiClient(token_for(user, **kwargs))
