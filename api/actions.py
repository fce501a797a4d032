"""Making and revoking API tokens: atomic and audited. The token's text exists only in
create_token's return value; the database keeps its digest."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.forms import refuse_control_characters
from accounts.models import User
from api.auth import SHOWN, digest, new_token_text
from api.models import ApiToken
from audit.log import Actor, record
from domains.models import Domain

NAME_MAX = 40


def _audit_name(token: ApiToken) -> str:
    return f"{token.owner.username}: {token.name}"


@transaction.atomic
def create_token(
    owner: User,
    name: str,
    *,
    actor: Actor,
    writes: bool,
    domains: list[Domain] | None,
    expires_at: datetime | None,
) -> tuple[ApiToken, str]:
    """A new token and its text. `domains` None: all of the owner's domains, now and later."""
    name = " ".join(name.split())
    try:
        refuse_control_characters(name)
    except ValidationError as e:
        raise ValidationError({"name": e.messages}) from None
    if not 1 <= len(name) <= NAME_MAX:
        raise ValidationError({"name": f"Give it a name of 1 to {NAME_MAX} characters, such as “HR import”."})
    if ApiToken.objects.filter(owner=owner, name=name).exists():
        raise ValidationError({"name": f"You already have a token named “{name}”."})
    if domains is not None and not domains:
        raise ValidationError({"domains": "Name at least one domain, or choose all of your domains."})
    text = new_token_text()
    token = ApiToken.objects.create(
        owner=owner,
        name=name,
        prefix=text[:SHOWN],
        digest=digest(text),
        writes=writes,
        all_domains=domains is None,
        expires_at=expires_at,
    )
    if domains is not None:
        token.domains.set(domains)
    changes = {
        "access": [None, "read-write" if writes else "read-only"],
        "domains": [None, "all" if domains is None else sorted(d.name for d in domains)],
        "expires": [None, expires_at.isoformat(timespec="seconds") if expires_at else "never"],
    }
    record(actor, "created", "API token", _audit_name(token), domain=None, changes=changes)
    return token, text


@transaction.atomic
def revoke_token(token: ApiToken, *, actor: Actor) -> None:
    record(actor, "revoked", "API token", _audit_name(token), domain=None)
    token.delete()
