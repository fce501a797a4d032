"""The one way a change enters the audit log: record(actor, action, object_type, object_name, …).

The audit app sits below the others, so it names the domain and the admin through Django's
base classes rather than importing the apps that define them.
"""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Model
from django.http import HttpRequest

from audit.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who made a change, as the audit log shows them."""

    name: str
    user: AbstractBaseUser | None = None


COMMAND_LINE = Actor("command line")


def actor_for(request: HttpRequest) -> Actor:
    if request.user.is_authenticated:
        return Actor(f"admin {request.user.username}", request.user)
    if mailbox := getattr(request, "mailbox", None):
        return Actor(f"mailbox {mailbox.ascii_address}")
    raise PermissionError("an anonymous request cannot change anything")


def api_actor(user: AbstractBaseUser, token_name: str) -> Actor:
    """An admin acting through one of their API tokens: the entry names the token, so a
    script's changes are told apart from the admin's own (and from another token's)."""
    return Actor(f"admin {user.get_username()} (API token “{token_name}”)", user)


def snapshot(obj: Any, fields: list[str]) -> dict[str, Any]:
    return {field: getattr(obj, field) for field in fields}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {field: [before.get(field), value] for field, value in after.items() if before.get(field) != value}


def record(
    actor: Actor, action: str, object_type: str, object_name: str, *, domain: Model | None, changes: dict | None = None
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor.user,
        actor_name=actor.name,
        domain=domain,
        domain_name=domain.name if domain else "",
        action=action,
        object_type=object_type,
        object_name=object_name,
        changes=changes or {},
    )
