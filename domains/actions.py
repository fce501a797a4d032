"""Every change to domains goes through these functions: atomic, audited."""

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.audit import Actor, diff, record, snapshot
from domains.models import Domain
from mailadmin.addresses import normalize_domain
from mailadmin.export.apply import mark_dirty

DOMAIN_FIELDS = ["active", "default_quota_mb", "alias_of_id"]


def _check_alias_target(domain: Domain, alias_of: Domain | None) -> None:
    if alias_of is None:
        return
    if alias_of.pk == domain.pk:
        raise ValidationError({"alias_of": "A domain cannot be an alias of itself."})
    if alias_of.is_alias_domain:
        raise ValidationError({"alias_of": f"{alias_of} is itself an alias domain; choose the domain it delivers as."})
    if domain.pk and domain.alias_domains.exists():
        raise ValidationError({"alias_of": f"Other domains deliver as {domain}; it cannot become an alias itself."})
    if domain.pk and (domain.mailboxes.exists() or domain.aliases.exists()):
        raise ValidationError(
            {"alias_of": f"{domain} has mailboxes or aliases; remove them before making it an alias domain."}
        )


@transaction.atomic
def create_domain(
    name: str, *, actor: Actor, active: bool = True, default_quota_mb: int = 0, alias_of: Domain | None = None
) -> Domain:
    name = normalize_domain(name)
    if Domain.objects.filter(name=name).exists():
        raise ValidationError({"name": f"{name} already exists."})
    domain = Domain(name=name, active=active, default_quota_mb=default_quota_mb, alias_of=alias_of)
    _check_alias_target(domain, alias_of)
    domain.save()
    record(actor, "created", "domain", domain.name, domain=domain, changes=diff({}, snapshot(domain, DOMAIN_FIELDS)))
    mark_dirty()
    return domain


@transaction.atomic
def update_domain(domain: Domain, *, actor: Actor, **fields) -> Domain:
    _check_alias_target(domain, fields.get("alias_of", domain.alias_of))
    before = snapshot(domain, DOMAIN_FIELDS)
    for field, value in fields.items():
        setattr(domain, field, value)
    changes = diff(before, snapshot(domain, DOMAIN_FIELDS))
    if changes:
        domain.save()
        record(actor, "updated", "domain", domain.name, domain=domain, changes=changes)
        mark_dirty()
    return domain


@transaction.atomic
def delete_domain(domain: Domain, *, actor: Actor) -> None:
    if domain.alias_domains.exists():
        names = ", ".join(str(d) for d in domain.alias_domains.all()[:5])
        raise ValidationError(f"{names} deliver as {domain}; delete or change them first.")
    counts = {"mailboxes": domain.mailboxes.count(), "aliases": domain.aliases.count()}
    record(actor, "deleted", "domain", domain.name, domain=domain, changes={k: [v, 0] for k, v in counts.items()})
    mark_dirty()
    domain.delete()
