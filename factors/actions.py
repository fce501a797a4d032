"""Every change to a person's second factors, and to who must have one: atomic and audited."""

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from webauthn.helpers import bytes_to_base64url

from audit.log import Actor, record
from core.sealed import seal, unseal
from domains.models import Domain
from factors import policy, recovery, totp
from factors.models import Enrolment, Passkey, Policy, RecoveryCode, RequiredDomain
from factors.passkeys import NewPasskey
from factors.people import Person


def enrolment_of(person: Person, *, create: bool = False) -> Enrolment | None:
    found = Enrolment.objects.filter(**person.owner).first()
    if found is not None or not create:
        return found
    handle = bytes_to_base64url(secrets.token_bytes(32))
    return Enrolment.objects.get_or_create(**person.owner, defaults={"user_handle": handle})[0]


def has_factor(enrolment: Enrolment | None) -> bool:
    """A passkey or an authenticator app: what the second step asks for. Recovery codes alone are not one."""
    return enrolment is not None and (bool(enrolment.totp_secret) or enrolment.passkeys.exists())


def _record(actor: Actor, person: Person, action: str, changes: dict) -> None:
    record(actor, action, "second factors", person.sign_in_name, domain=person.domain, changes=changes)


def _locked(person: Person) -> Enrolment:
    # Two removals at once must not both find "another factor left" and leave none.
    return Enrolment.objects.select_for_update().get(**person.owner)


def _after_removal(person: Person, enrolment: Enrolment, changes: dict) -> dict:
    """Refuse to remove the last factor of someone who must have one; otherwise, once none is
    left, drop what only made sense beside one (recovery codes, passwordless sign-in)."""
    if has_factor(enrolment):
        return changes
    if reason := policy.requirement(person):
        raise ValidationError(
            f"{reason} This is your last one: add another passkey or an authenticator app first.", code="last_factor"
        )
    if left := enrolment.recovery_codes.count():
        enrolment.recovery_codes.all().delete()
        changes["recovery codes"] = [left, 0]
    if enrolment.passwordless:
        Enrolment.objects.filter(pk=enrolment.pk).update(passwordless=False)
        changes["passwordless sign-in"] = [True, False]
    return changes


@transaction.atomic
def add_passkey(person: Person, name: str, new: NewPasskey, *, actor: Actor) -> Passkey:
    enrolment = enrolment_of(person, create=True)
    if Passkey.objects.filter(credential_id=new.credential_id).exists():
        raise ValidationError("This passkey is registered here already.", code="duplicate")
    passkey = Passkey.objects.create(
        enrolment=enrolment,
        name=name,
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        transports=new.transports,
    )
    _record(actor, person, "added passkey", {"passkey": [None, name]})
    return passkey


@transaction.atomic
def remove_passkey(person: Person, passkey_id: int, *, actor: Actor) -> None:
    enrolment = _locked(person)
    passkey = enrolment.passkeys.get(pk=passkey_id)
    passkey.delete()
    _record(actor, person, "removed passkey", _after_removal(person, enrolment, {"passkey": [passkey.name, None]}))


@transaction.atomic
def set_totp(person: Person, secret: str, step: int, *, actor: Actor) -> None:
    """Turn on (or replace) the authenticator app; `step` is the one its confirming code matched,
    so that code cannot sign in afterwards."""
    enrolment = enrolment_of(person, create=True)
    replaced = bool(enrolment.totp_secret)
    Enrolment.objects.filter(pk=enrolment.pk).update(totp_secret=seal(secret.encode()), totp_last_step=step)
    action = "replaced authenticator app" if replaced else "turned on authenticator app"
    _record(actor, person, action, {"authenticator app": ["(old)" if replaced else None, "(new)"]})


@transaction.atomic
def remove_totp(person: Person, *, actor: Actor) -> None:
    enrolment = _locked(person)
    if not enrolment.totp_secret:
        return
    enrolment.totp_secret, enrolment.totp_last_step = "", None
    enrolment.save(update_fields=["totp_secret", "totp_last_step"])
    changes = _after_removal(person, enrolment, {"authenticator app": ["on", "off"]})
    _record(actor, person, "turned off authenticator app", changes)


def seal_plain_totp_keys() -> int:
    """Seal the authenticator app keys restored from a backup made before they were sealed
    (base32, as apps read it: a sealed key is base64url and always has lower case letters)."""
    plain = [
        (pk, secret)
        for pk, secret in Enrolment.objects.exclude(totp_secret="").values_list("pk", "totp_secret")
        if totp.is_plain_key(secret)
    ]
    for pk, secret in plain:
        Enrolment.objects.filter(pk=pk).update(totp_secret=seal(secret.encode()))
    return len(plain)


def check_totp(enrolment: Enrolment, code: str) -> bool:
    """Whether `code` is valid now and newer than every code accepted before; accepting it
    makes it and every earlier code invalid (one conditional UPDATE, so two requests with one
    code cannot both pass)."""
    secret = unseal(enrolment.totp_secret, "an authenticator app's key").decode()
    found = totp.match(secret, code, after_step=enrolment.totp_last_step)
    if found is None:
        return False
    newer = Q(totp_last_step__isnull=True) | Q(totp_last_step__lt=found.step)
    return Enrolment.objects.filter(newer, pk=enrolment.pk).update(totp_last_step=found.step) == 1


@transaction.atomic
def new_recovery_codes(person: Person, *, actor: Actor) -> list[str]:
    """Ten new codes, which replace every earlier one; returned once, stored hashed."""
    enrolment = enrolment_of(person, create=True)
    before = enrolment.recovery_codes.count()
    enrolment.recovery_codes.all().delete()
    codes = recovery.new_codes()
    RecoveryCode.objects.bulk_create(RecoveryCode(enrolment=enrolment, code_hash=recovery.make_hash(c)) for c in codes)
    _record(actor, person, "made new recovery codes", {"recovery codes": [before, len(codes)]})
    return codes


def first_recovery_codes(person: Person, *, actor: Actor) -> list[str] | None:
    """New codes for someone who has none (with their first factor), else None."""
    enrolment = enrolment_of(person)
    if enrolment is not None and enrolment.recovery_codes.exists():
        return None
    return new_recovery_codes(person, actor=actor)


@transaction.atomic
def use_recovery_code(person: Person, enrolment: Enrolment, code: str, *, actor: Actor) -> int | None:
    """How many codes are left after using `code`, or None if it is not one of them (or was used)."""
    rows = list(enrolment.recovery_codes.all())
    used = next((row for row in rows if recovery.matches(code, row.code_hash)), None)
    # The DELETE decides: of two requests with one code, only one deletes the row.
    if used is None or not RecoveryCode.objects.filter(pk=used.pk).delete()[0]:
        return None
    _record(actor, person, "used recovery code", {"recovery codes": [len(rows), len(rows) - 1]})
    return len(rows) - 1


@transaction.atomic
def set_passwordless(person: Person, on: bool, *, actor: Actor) -> None:
    enrolment = enrolment_of(person, create=True)
    if on and not enrolment.passkeys.exists():
        raise ValidationError("Add a passkey first: it is what signs you in.", code="no_passkey")
    if enrolment.passwordless != on:
        Enrolment.objects.filter(pk=enrolment.pk).update(passwordless=on)
        _record(actor, person, "changed passwordless sign-in", {"passwordless sign-in": [not on, on]})


def summary(enrolment: Enrolment | None) -> dict:
    """What a person has, as a superadmin's page and the audit log show it (never a secret)."""
    if enrolment is None:
        return {"passkeys": [], "authenticator app": False, "recovery codes": 0, "passwordless sign-in": False}
    return {
        "passkeys": [p.name for p in enrolment.passkeys.all()],
        "authenticator app": bool(enrolment.totp_secret),
        "recovery codes": enrolment.recovery_codes.count(),
        "passwordless sign-in": enrolment.passwordless,
    }


@transaction.atomic
def reset(person: Person, *, actor: Actor) -> bool:
    """A superadmin removes every factor of someone who lost theirs; False if there was none.
    Allowed where a factor is required: that person is led to set one up at their next sign-in."""
    enrolment = enrolment_of(person)
    before = summary(enrolment)
    if enrolment is None or before == summary(None):
        return False
    enrolment.delete()
    changes = {key: [value, summary(None)[key]] for key, value in before.items() if value != summary(None)[key]}
    _record(actor, person, "reset second factors", changes)
    return True


@transaction.atomic
def set_policy(all_admins: bool, domains: list[Domain], *, actor: Actor) -> None:
    current = Policy.objects.filter(pk=1).first() or Policy(pk=1)
    before_domains = sorted(RequiredDomain.objects.values_list("domain__name", flat=True))
    after_domains = sorted(d.name for d in domains)
    changes = {}
    if current.all_admins != all_admins:
        changes["all admins"] = [current.all_admins, all_admins]
        current.all_admins = all_admins
        current.save()
    if before_domains != after_domains:
        changes["admins of"] = [before_domains, after_domains]
        RequiredDomain.objects.exclude(domain__in=domains).delete()
        for domain in domains:
            RequiredDomain.objects.get_or_create(domain=domain)
    if changes:
        record(actor, "changed", "second factor policy", "admins", domain=None, changes=changes)
