"""Every change to mailboxes, aliases and admins goes through these functions: atomic, audited.

Passwords are hashed here and never reach the audit log: a password change is recorded as
the field name with no values.
"""

import re
import secrets
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts import mailpasswords
from accounts.aliasrules import check_alias, check_receives_mail
from accounts.forms import clean_admin_name
from accounts.models import Address, Alias, AppPassword, Forwarding, Mailbox, Postmaster, User, Vacation
from audit.log import Actor, diff, record, snapshot
from core.addresses import normalize_address, normalize_local_part
from core.models import save_changes
from core.quota import fill_permille
from domains.models import Domain
from export.dirty import mark_dirty

MAILBOX_FIELDS = ["display_name", "quota_mb", "active"]
ALIAS_FIELDS = ["destinations", "active"]
PASSWORD_CHANGED = {"password": ["(not shown)", "(changed)"]}


def _claim_address(domain: Domain, local_part: str) -> None:
    """Take the address for a new mailbox or alias; the unique constraint settles a race."""
    try:
        with transaction.atomic():
            Address.objects.create(domain=domain, local_part=local_part)
    except IntegrityError:
        check_address_free(domain, local_part)  # names the winner, now committed
        raise ValidationError({"local_part": f"{local_part}@{domain} was just taken by someone else."}) from None


def _release_address(domain: Domain, local_part: str) -> None:
    Address.objects.filter(domain=domain, local_part=local_part).delete()


def check_address_free(
    domain: Domain, local_part: str, *, mailbox: Mailbox | None = None, alias: Alias | None = None
) -> None:
    """One address is either a mailbox or an alias, never both: the daemons could not agree which wins."""
    address = f"{local_part}@{domain}"
    if domain.is_alias_domain:
        raise ValidationError(f"{domain} delivers as {domain.alias_of}; add addresses there instead.")
    mailboxes = Mailbox.objects.filter(domain=domain, local_part=local_part).exclude(pk=getattr(mailbox, "pk", None))
    if mailboxes.exists():
        raise ValidationError({"local_part": f"{address} is already a mailbox."})
    aliases = Alias.objects.filter(domain=domain, local_part=local_part).exclude(pk=getattr(alias, "pk", None))
    if aliases.exists():
        message = f"{address} is already an alias." if local_part else f"{domain} already has a catch-all."
        raise ValidationError({"local_part": message})


@transaction.atomic
def create_mailbox(
    domain: Domain,
    local_part: str,
    password: str,
    *,
    actor: Actor,
    display_name: str = "",
    quota_mb: int | None = None,
    active: bool = True,
    password_hash: str | None = None,
) -> Mailbox:
    local_part = normalize_local_part(local_part)
    check_address_free(domain, local_part)
    _claim_address(domain, local_part)
    mailbox = Mailbox(
        domain=domain,
        local_part=local_part,
        display_name=display_name,
        quota_mb=domain.default_quota_mb if quota_mb is None else quota_mb,
        active=active,
        password_hash=password_hash or mailpasswords.make_hash(password),
        password_changed_at=timezone.now(),
    )
    mailbox.save()
    Domain.objects.filter(pk=domain.pk).update(mailbox_count=F("mailbox_count") + 1)
    domain.mailbox_count += 1  # the page this request shows next counts it too
    changes = diff({}, snapshot(mailbox, MAILBOX_FIELDS)) | PASSWORD_CHANGED
    record(actor, "created", "mailbox", mailbox.ascii_address, domain=domain, changes=changes)
    mark_dirty()
    return mailbox


def _given(**values) -> dict:
    """The keyword arguments a caller passed; None means "leave as it is"."""
    return {field: value for field, value in values.items() if value is not None}


@transaction.atomic
def update_mailbox(
    mailbox: Mailbox,
    *,
    actor: Actor,
    display_name: str | None = None,
    quota_mb: int | None = None,
    active: bool | None = None,
) -> Mailbox:
    if active is False and mailbox.active:
        _keep_postmaster(mailbox.domain, mailbox.local_part, "disable")
    changes = save_changes(mailbox, _given(display_name=display_name, quota_mb=quota_mb, active=active))
    if "quota_mb" in changes:
        # A quota below the usage is allowed (the mailbox then refuses new mail until it shrinks).
        mailbox.fill_permille = fill_permille(mailbox.used_bytes, mailbox.quota_mb)
        Mailbox.objects.filter(pk=mailbox.pk).update(fill_permille=mailbox.fill_permille)
    if changes:
        record(actor, "updated", "mailbox", mailbox.ascii_address, domain=mailbox.domain, changes=changes)
        # A quota (or a name, which no file holds) changes only this mailbox's own lines.
        mark_dirty(mailbox=mailbox.pk if set(changes) <= {"quota_mb", "display_name"} else None)
    return mailbox


@transaction.atomic
def set_mailbox_password(mailbox: Mailbox, password: str, *, actor: Actor, password_hash: str | None = None) -> Mailbox:
    mailbox.password_hash = password_hash or mailpasswords.make_hash(password)
    mailbox.password_changed_at = timezone.now()
    mailbox.save(update_fields=["password_hash", "password_changed_at", "updated_at"])
    record(actor, "changed password", "mailbox", mailbox.ascii_address, domain=mailbox.domain, changes=PASSWORD_CHANGED)
    mark_dirty(mailbox=mailbox.pk)
    return mailbox


def spellings(domain: Domain, local_part: str) -> set[str]:
    """The address and its twins at the domain's alias domains: every way an alias can name it."""
    names = [domain.name, *domain.alias_domains.values_list("name", flat=True)]
    return {f"{local_part}@{name}" for name in names}


def aliases_delivering_to(addresses: set[str]) -> list[Alias]:
    """Aliases that name any of these addresses (read in Python: SQLite cannot search JSON lists)."""
    rows = Alias.objects.select_related("domain").only("pk", "local_part", "destinations", "domain__name")
    return [alias for alias in rows if addresses.intersection(alias.destinations)]


def _drop_destinations(addresses: set[str], *, actor: Actor, deleting: set[int]) -> None:
    """An address that stops existing leaves the aliases that named it; an alias left with
    no destination goes too (each change audited), so no alias points into nothing.
    `deleting` holds the aliases already on their way out (a loop would come back to them)."""
    for alias in aliases_delivering_to(addresses):
        if alias.pk in deleting:
            continue
        kept = [d for d in alias.destinations if d not in addresses]
        if kept:
            changes = save_changes(alias, {"destinations": kept})
            _record_alias(actor, "updated", alias, changes)
        else:
            delete_alias(alias, actor=actor, _deleting=deleting)


def _keep_postmaster(domain: Domain, local_part: str, change: str) -> None:
    if Postmaster.current() in spellings(domain, local_part):
        raise ValidationError(
            f"{local_part}@{domain} receives the host's postmaster and abuse mail: choose another "
            f"postmaster address (Admins → Postmaster) before you {change} it."
        )


@transaction.atomic
def delete_mailbox(mailbox: Mailbox, *, actor: Actor) -> None:
    _keep_postmaster(mailbox.domain, mailbox.local_part, "delete")
    _drop_destinations(spellings(mailbox.domain, mailbox.local_part), actor=actor, deleting=set())
    record(
        actor,
        "deleted",
        "mailbox",
        mailbox.ascii_address,
        domain=mailbox.domain,
        changes=diff(snapshot(mailbox, MAILBOX_FIELDS), dict.fromkeys(MAILBOX_FIELDS)),
    )
    mark_dirty()
    _release_address(mailbox.domain, mailbox.local_part)
    mailbox.delete()
    Domain.objects.filter(pk=mailbox.domain_id).update(mailbox_count=F("mailbox_count") - 1)
    mailbox.domain.mailbox_count -= 1


def _alias_name(domain: Domain, local_part: str) -> str:
    return f"{local_part}@{domain.name}" if local_part else f"@{domain.name}"


def _record_alias(actor: Actor, action: str, alias: Alias, changes: dict) -> None:
    record(actor, action, "alias", _alias_name(alias.domain, alias.local_part), domain=alias.domain, changes=changes)


def clean_destinations(domain: Domain, local_part: str, destinations: list[str]) -> list[str]:
    """Normalised, without repeats, at least one, and never the alias itself."""
    cleaned: list[str] = []
    for destination in destinations:
        address = normalize_address(destination)
        if address not in cleaned:
            cleaned.append(address)
    if not cleaned:
        raise ValidationError({"destinations": "Enter at least one destination address."})
    if _alias_name(domain, local_part) in cleaned:
        raise ValidationError({"destinations": "An alias cannot deliver to itself."})
    return cleaned


@transaction.atomic
def create_alias(
    domain: Domain, local_part: str, destinations: list[str], *, actor: Actor, active: bool = True
) -> Alias:
    local_part = normalize_local_part(local_part) if local_part else ""
    destinations = clean_destinations(domain, local_part, destinations)
    check_address_free(domain, local_part)
    _claim_address(domain, local_part)
    if active:
        check_alias(domain, local_part, destinations)
    alias = Alias.objects.create(domain=domain, local_part=local_part, destinations=destinations, active=active)
    record(
        actor,
        "created",
        "alias",
        _alias_name(domain, local_part),
        domain=domain,
        changes=diff({}, snapshot(alias, ALIAS_FIELDS)),
    )
    mark_dirty()
    return alias


@transaction.atomic
def update_alias(
    alias: Alias, *, actor: Actor, destinations: list[str] | None = None, active: bool | None = None
) -> Alias:
    if destinations is not None:
        destinations = clean_destinations(alias.domain, alias.local_part, destinations)
    if active if active is not None else alias.active:
        check_alias(alias.domain, alias.local_part, destinations or alias.destinations, alias=alias)
    changes = save_changes(alias, _given(destinations=destinations, active=active))
    if changes:
        _record_alias(actor, "updated", alias, changes)
        mark_dirty()
    return alias


@transaction.atomic
def delete_alias(alias: Alias, *, actor: Actor, _deleting: set[int] | None = None) -> None:
    if alias.local_part:
        _keep_postmaster(alias.domain, alias.local_part, "delete")
        deleting = (_deleting or set()) | {alias.pk}
        _drop_destinations(spellings(alias.domain, alias.local_part), actor=actor, deleting=deleting)
    _record_alias(actor, "deleted", alias, diff(snapshot(alias, ALIAS_FIELDS), dict.fromkeys(ALIAS_FIELDS)))
    mark_dirty()
    _release_address(alias.domain, alias.local_part)
    alias.delete()


@transaction.atomic
def create_admin(username: str, password: str, *, actor: Actor, superadmin: bool, domains: list[Domain] = ()) -> User:
    try:
        username = clean_admin_name(username)  # every way of creating an admin gets the same rules
    except ValidationError as e:
        raise ValidationError({"username": e.messages}) from None
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": f"There is already an admin called {username}."})
    user = User(username=username, is_superuser=superadmin, is_staff=superadmin)
    user.set_password(password)
    user.save()
    user.domains.set(domains)
    record(
        actor,
        "created",
        "admin",
        username,
        domain=None,
        changes={"superadmin": [None, superadmin], "domains": [None, sorted(d.name for d in domains)]},
    )
    return user


@transaction.atomic
def update_admin(user: User, *, actor: Actor, superadmin: bool, domains: list[Domain], active: bool) -> User:
    if actor.user is not None and actor.user.pk == user.pk and not (superadmin and active):
        raise ValidationError("You cannot take away your own superadmin rights or disable yourself.")
    before = {
        "superadmin": user.is_superuser,
        "active": user.is_active,
        "domains": sorted(d.name for d in user.domains.all()),
    }
    user.is_superuser = user.is_staff = superadmin
    user.is_active = active
    user.save()
    user.domains.set(domains)
    after = {"superadmin": superadmin, "active": active, "domains": sorted(d.name for d in domains)}
    if changes := diff(before, after):
        record(actor, "updated", "admin", user.username, domain=None, changes=changes)
    return user


@transaction.atomic
def set_admin_password(user: User, password: str, *, actor: Actor) -> User:
    user.set_password(password)
    user.save(update_fields=["password"])
    record(actor, "changed password", "admin", user.username, domain=None, changes=PASSWORD_CHANGED)
    return user


@transaction.atomic
def set_postmaster(address: str, *, actor: Actor) -> Postmaster:
    """Where postmaster@ and abuse@ of every domain (and of the mail host's own name) go, unless
    the domain has its own. A destination here must be a live mailbox or alias, as for an alias."""
    address = normalize_address(address)
    check_receives_mail(address, "address")
    before = Postmaster.current()
    postmaster, _ = Postmaster.objects.update_or_create(pk=1, defaults={"address": address})
    if before != address:
        record(actor, "set", "postmaster", address, domain=None, changes={"address": [before or None, address]})
        mark_dirty()
    return postmaster


MAX_FORWARDS = 10


@transaction.atomic
def set_vacation(
    mailbox: Mailbox,
    *,
    actor: Actor,
    enabled: bool,
    subject: str,
    body: str,
    start: date | None = None,
    end: date | None = None,
    days: int = 7,
) -> Vacation:
    if enabled and not body.strip():
        raise ValidationError({"body": "Write the reply people get."})
    if start and end and end < start:
        raise ValidationError({"end": "The last day comes before the first."})
    if not 1 <= days <= 30:
        raise ValidationError({"days": "Between 1 and 30 days."})
    vacation, _ = Vacation.objects.get_or_create(mailbox=mailbox)
    values = {"enabled": enabled, "subject": subject.strip(), "body": body, "start": start, "end": end, "days": days}
    if changes := save_changes(vacation, values):
        # Dates as text (the log is JSON); the reply's text is not copied into the log.
        shown = {k: [str(v) if isinstance(v, date) else v for v in pair] for k, pair in changes.items() if k != "body"}
        shown |= {"reply": ["…", "(changed)"]} if "body" in changes else {}
        record(actor, "updated", "vacation reply", mailbox.ascii_address, domain=mailbox.domain, changes=shown)
        mark_dirty()
    return vacation


def _forwarding_loops(mailbox: Mailbox, destinations: list[str]) -> str:
    """A destination that comes back to this mailbox, through aliases or other forwards, or ""."""
    own = spellings(mailbox.domain, mailbox.local_part)
    seen, queue = set(), list(destinations)
    while queue:
        address = queue.pop()
        if address in own:
            return address
        if address in seen:
            continue
        seen.add(address)
        local, _, domain_name = address.rpartition("@")
        domain = Domain.objects.filter(name=domain_name).select_related("alias_of").first()
        if domain is None:
            continue  # another host's address
        target = domain.alias_of or domain
        alias = Alias.objects.filter(domain=target, local_part=local, active=True).first()
        if alias is not None:
            queue += alias.destinations
        forwarding = Forwarding.objects.filter(mailbox__domain=target, mailbox__local_part=local).first()
        if forwarding is not None:
            queue += forwarding.destinations
    return ""


@transaction.atomic
def set_forwarding(mailbox: Mailbox, *, actor: Actor, destinations: list[str], keep_copy: bool) -> Forwarding:
    cleaned: list[str] = []
    for destination in destinations:
        address = normalize_address(destination)
        if address not in cleaned:
            cleaned.append(address)
    if len(cleaned) > MAX_FORWARDS:
        raise ValidationError({"destinations": f"At most {MAX_FORWARDS} addresses."})
    if looping := _forwarding_loops(mailbox, cleaned):
        raise ValidationError({"destinations": f"Mail to {looping} comes back to this mailbox: that would loop."})
    forwarding, _ = Forwarding.objects.get_or_create(mailbox=mailbox)
    if changes := save_changes(forwarding, {"destinations": cleaned, "keep_copy": keep_copy}):
        record(actor, "updated", "forwarding", mailbox.ascii_address, domain=mailbox.domain, changes=changes)
        mark_dirty()
    return forwarding


# App passwords: 4 groups of 4 letters and digits, without look-alikes (0/O, 1/l/I): about
# 82 bits, typed once into a device, never shown again.
APP_PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
# No control characters, and no bidirectional overrides that would turn the list around.
APP_PASSWORD_NAME = re.compile(r"[^\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]{1,40}")


def new_app_password_text() -> str:
    return "-".join("".join(secrets.choice(APP_PASSWORD_ALPHABET) for _ in range(4)) for _ in range(4))


def _locked_mailbox(mailbox: Mailbox) -> Mailbox:
    """The row locked until the transaction ends, so two requests cannot take the same slot."""
    return Mailbox.objects.select_for_update().get(pk=mailbox.pk)


@transaction.atomic
def create_app_password(mailbox: Mailbox, name: str, *, actor: Actor) -> tuple[AppPassword, str]:
    """A new app password and its text, which exists only in this return value."""
    name = " ".join(name.split())
    if not APP_PASSWORD_NAME.fullmatch(name):
        raise ValidationError({"name": "Give it a name of 1 to 40 characters, such as “phone”."})
    _locked_mailbox(mailbox)
    taken = dict(mailbox.app_passwords.values_list("slot", "name"))
    if name in taken.values():
        raise ValidationError({"name": f"You already have an app password named “{name}”."})
    free = [slot for slot in range(1, AppPassword.SLOTS + 1) if slot not in taken]
    if not free:
        raise ValidationError(
            {"name": f"You have {AppPassword.SLOTS} app passwords, the most there can be: revoke one first."}
        )
    text = new_app_password_text()
    app_password = AppPassword.objects.create(
        mailbox=mailbox, name=name, slot=free[0], password_hash=mailpasswords.make_hash(text)
    )
    record(actor, "created", "app password", f"{mailbox.ascii_address} ({name})", domain=mailbox.domain)
    mark_dirty(mailbox=mailbox.pk)
    return app_password, text


@transaction.atomic
def revoke_app_password(app_password: AppPassword, *, actor: Actor) -> None:
    mailbox = _locked_mailbox(app_password.mailbox)
    if mailbox.app_passwords_only and mailbox.app_passwords.count() == 1:
        raise ValidationError(
            "This is your last app password, and your mail apps may use only app passwords: "
            "make another first, or let mail apps use your password again."
        )
    app_password.delete()
    record(actor, "revoked", "app password", f"{mailbox.ascii_address} ({app_password.name})", domain=mailbox.domain)
    mark_dirty(mailbox=mailbox.pk)


@transaction.atomic
def set_app_passwords_only(mailbox: Mailbox, only: bool, *, actor: Actor) -> Mailbox:
    """With `only`, IMAP and SMTP refuse the mailbox's own password; the panel still takes it."""
    locked = _locked_mailbox(mailbox)
    if only and not locked.app_passwords.exists():
        raise ValidationError("Make an app password first: with none, no mail app could sign in.")
    if changes := save_changes(mailbox, {"app_passwords_only": only}):
        record(actor, "updated", "mailbox", mailbox.ascii_address, domain=mailbox.domain, changes=changes)
        mark_dirty(mailbox=mailbox.pk)
    return mailbox
