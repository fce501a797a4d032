"""Every change to domains goes through these functions: atomic, audited."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.log import Actor, diff, record, snapshot
from core.addresses import normalize_domain
from core.models import save_changes
from domains import dkim
from domains.models import DkimKey, Domain, DomainPolicy
from export.dirty import mark_dirty

DOMAIN_FIELDS = ["active", "default_quota_mb"]
# update_domain(alias_of=UNCHANGED) leaves the alias target as it is; None makes an ordinary domain.
UNCHANGED = object()


def _audit_fields(domain: Domain) -> dict:
    """What the audit log shows of a domain: its settings, and the alias target by name."""
    return snapshot(domain, DOMAIN_FIELDS) | {"delivers as": domain.alias_of.name if domain.alias_of else None}


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
    record(actor, "created", "domain", domain.name, domain=domain, changes=diff({}, _audit_fields(domain)))
    if alias_of is None:
        # Every sending domain gets its key at once; it signs when a check sees it published.
        create_dkim_key(domain, actor=actor)
    mark_dirty()
    return domain


@transaction.atomic
def update_domain(
    domain: Domain,
    *,
    actor: Actor,
    active: bool | None = None,
    default_quota_mb: int | None = None,
    alias_of: "Domain | None | object" = UNCHANGED,
) -> Domain:
    before = _audit_fields(domain)
    values = {
        field: value
        for field, value in [("active", active), ("default_quota_mb", default_quota_mb)]
        if value is not None
    }
    if alias_of is not UNCHANGED:
        _check_alias_target(domain, alias_of)
        values["alias_of_id"] = alias_of.pk if alias_of else None
    if save_changes(domain, values):
        domain.alias_of = alias_of if alias_of is not UNCHANGED else domain.alias_of
        changes = diff(before, _audit_fields(domain))
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


def default_selector(domain: Domain, algorithm: str) -> str:
    base = timezone.now().strftime("%Y%m") + ("ed" if algorithm == dkim.ED25519 else "")
    selector, n = base, 1
    while DkimKey.objects.filter(domain=domain, selector=selector).exists():
        n += 1
        selector = f"{base}-{n}"
    return selector


@transaction.atomic
def create_dkim_key(
    domain: Domain, *, actor: Actor, algorithm: str = dkim.RSA, bits: int = 2048, selector: str = ""
) -> DkimKey:
    """A new pending key: published first, switched to later (activate_dkim_key)."""
    selector = (selector or default_selector(domain, algorithm)).strip().lower()
    if not dkim.SELECTOR.fullmatch(selector):
        raise ValidationError(
            {"selector": "A selector is one DNS label: letters, digits and inner hyphens, at most 63."}
        )
    if DkimKey.objects.filter(domain=domain, selector=selector).exists():
        raise ValidationError({"selector": f"{domain} already has a key with the selector {selector}."})
    if algorithm == dkim.RSA and bits < dkim.MIN_RSA_BITS:
        raise ValidationError({"bits": f"RSA keys need at least {dkim.MIN_RSA_BITS} bits."})
    if (
        algorithm == dkim.ED25519
        and not domain.dkim_keys.filter(algorithm=dkim.RSA).exclude(state=DkimKey.RETIRED).exists()
    ):
        raise ValidationError(
            {"algorithm": "Add an RSA key first: many receivers cannot verify Ed25519 signatures alone."}
        )
    generated = dkim.generate(algorithm, bits)
    key = DkimKey.objects.create(
        domain=domain,
        selector=selector,
        algorithm=algorithm,
        bits=generated.bits,
        private_key_encrypted=dkim.encrypt(generated.private_export),
        public_key=generated.public_key,
    )
    record(
        actor,
        "created",
        "DKIM key",
        dkim.record_name(selector, domain.name),
        domain=domain,
        changes={"algorithm": [None, algorithm], "bits": [None, generated.bits], "state": [None, key.state]},
    )
    return key


LIVE_CHECK = Actor("live DNS check")


@transaction.atomic
def key_seen_published(key: DkimKey) -> DkimKey:
    """A live check found the key's record: note it, and if the domain signs with no key of this
    algorithm yet (a new domain), sign with this one from the next apply on."""
    if key.published_at is None:
        key.published_at = timezone.now()
        key.save(update_fields=["published_at"])
    signing = DkimKey.objects.filter(domain=key.domain, algorithm=key.algorithm, state=DkimKey.ACTIVE).exists()
    if key.state == DkimKey.PENDING and not signing:
        activate_dkim_key(key, actor=LIVE_CHECK)
    return key


@transaction.atomic
def activate_dkim_key(key: DkimKey, *, actor: Actor, unpublished_ok: bool = False) -> DkimKey:
    """Sign with this key from the next apply on; the key it replaces stays published, retired.

    Only once a live check has seen its record (DESIGN decision 11), unless the admin says to
    switch anyway: receivers then fail every signature, and with DMARC p=reject reject the mail."""
    if key.state != DkimKey.PENDING:
        raise ValidationError(f"Only a pending key can be switched to; {key.selector} is {key.state}.")
    if key.published_at is None and not unpublished_ok:
        raise ValidationError(
            f"The record of {key.selector} has not been seen in DNS yet: publish it and run “Check now” first. "
            "Switching before then makes receivers fail every signature, and reject the mail under DMARC p=reject."
        )
    now = timezone.now()
    replaced = list(DkimKey.objects.filter(domain=key.domain, algorithm=key.algorithm, state=DkimKey.ACTIVE))
    for old in replaced:
        old.state, old.retired_at = DkimKey.RETIRED, now
        old.save(update_fields=["state", "retired_at"])
    key.state, key.activated_at = DkimKey.ACTIVE, now
    key.save(update_fields=["state", "activated_at"])
    record(
        actor,
        "activated",
        "DKIM key",
        key.record_name,
        domain=key.domain,
        changes={
            "state": ["pending", "active"],
            "retired": [None, [k.selector for k in replaced]],
            **({"record seen in DNS": [None, False]} if key.published_at is None else {}),
        },
    )
    mark_dirty()
    return key


@transaction.atomic
def remove_dkim_key(key: DkimKey, *, actor: Actor) -> DkimKey | None:
    """A pending key is simply deleted. A retired key becomes "removed": its private key is wiped,
    and the DNS page checks that its record is gone until the user forgets it."""
    if key.state == DkimKey.ACTIVE:
        raise ValidationError("Switch signing to another key before removing the active one.")
    name = key.record_name
    record(actor, "removed", "DKIM key", name, domain=key.domain, changes={"state": [key.state, DkimKey.REMOVED]})
    if key.state in (DkimKey.PENDING, DkimKey.REMOVED):
        key.delete()
        return None
    key.state, key.private_key_encrypted = DkimKey.REMOVED, ""
    key.save(update_fields=["state", "private_key_encrypted"])
    return key


POLICY_FIELDS = [
    "parked",
    "mx_hosts",
    "spf_mechanisms",
    "spf_all",
    "dmarc_p",
    "dmarc_sp",
    "dmarc_pct",
    "dmarc_aspf",
    "dmarc_adkim",
    "dmarc_fo",
    "dmarc_rua",
    "dmarc_ruf",
    "mta_sts_mode",
    "mta_sts_max_age",
    "tlsrpt_rua",
]


@transaction.atomic
def update_policy(policy: DomainPolicy, *, actor: Actor, **fields) -> DomainPolicy:
    """Sets the given POLICY_FIELDS (fifteen of them, hence keywords by name); any other name is a TypeError."""
    if unknown := set(fields) - set(POLICY_FIELDS):
        raise TypeError(f"not a policy field: {', '.join(sorted(unknown))}")
    if changes := save_changes(policy, fields):
        record(actor, "updated", "DNS policy", policy.domain.name, domain=policy.domain, changes=changes)
        mark_dirty()  # the MTA-STS policy file is exported
    return policy
