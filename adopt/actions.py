"""Adopting: everything the dry run planned, written through the actions, all or nothing, one apply.

The lines go through the CSV import's writers (transfer.runner.WRITERS), which call the same
actions as every form (accounts.actions, domains.actions), so each domain, mailbox and alias is
checked again and audited as if an admin had added it. Unlike an import, an adoption is one
transaction: a line the actions refuse (the database changed since the dry run) leaves nothing
written, because a host adopted in part would stop serving the rest of its users at the next
apply. mark_dirty() is held while writing and called once at the end: one apply installs the
whole host.

Two actions only adoption needs live here:
- `keep_home`: a mailbox whose mail is not where the panel would look (a host that kept capitals
  in its paths) keeps its home (accounts.models.Mailbox.home, rendered into Dovecot's users file);
- `import_dkim_key`: a key that signs today, stored encrypted (domains.dkim) and active at once,
  since its record is already what receivers check; the key create_domain made for a new domain
  is removed when the domain brings its own.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Mailbox
from adopt.dkimkeys import FoundKey
from adopt.findings import Reading
from adopt.report import CHANGE_PLAN, CREATE, DryRun
from audit.log import Actor, record
from domains import dkim
from domains.actions import remove_dkim_key
from domains.models import DkimKey, Domain
from export.dirty import config_state, held, mark_dirty
from export.models import ConfigState
from transfer.models import ImportLine
from transfer.runner import WRITERS


class _AllDomains:
    """The rights transfer.runner's writers ask about: adoption is a superadmin's (or the command line's)."""

    all = True

    def __init__(self) -> None:
        self.domains: dict[str, Domain] = {}

    def domain(self, name: str) -> Domain:
        if name not in self.domains:
            domain = Domain.objects.select_related("alias_of").filter(name=name).first()
            if domain is None:
                raise ValidationError(f"{name} does not exist any more.")
            self.domains[name] = domain
        return self.domains[name]


@dataclass
class Adopted:
    created: int = 0
    changed: int = 0
    homes: int = 0
    keys: int = 0


def adopt(dry_run: DryRun, reading: Reading, *, actor: Actor) -> Adopted:
    """Raises ValidationError (nothing written) if the dry run has an error or an action refuses a line."""
    report = dry_run.report
    if report.blocked:
        raise ValidationError("The dry run has errors: nothing is adopted until every line is understood.")
    done = Adopted()
    rights = _AllDomains()
    created_domains: set[str] = set()
    with transaction.atomic():
        with held():
            writing = [line for line in dry_run.lines if line.plan in (CREATE, CHANGE_PLAN)]
            for line in sorted(writing, key=lambda line: line.order):
                row = ImportLine(
                    kind=line.kind,
                    address=line.address,
                    shown=line.shown,
                    plan=line.plan,
                    values=line.values,
                    password_hash=line.password_hash,
                )
                try:
                    WRITERS[line.kind](row, actor, rights)
                except ValidationError as e:
                    where = reading.where[line.number]
                    raise ValidationError(
                        f"{line.shown} ({where}): {' '.join(e.messages)} Nothing was adopted."
                    ) from None
                if line.kind == "domain":
                    rights.domains.clear()
                    if line.plan == CREATE:
                        created_domains.add(line.domain)
                done.created += line.plan == CREATE
                done.changed += line.plan == CHANGE_PLAN
            for address, home in reading.homes.items():
                local, _, domain = address.rpartition("@")
                mailbox = Mailbox.objects.select_related("domain").get(domain__name=domain, local_part=local)
                done.homes += keep_home(mailbox, home, actor=actor)
            for name in sorted({key.domain for key in dry_run.keys} & created_domains):
                # The key create_domain has just made: this domain brings the keys it signs with.
                for pending in rights.domain(name).dkim_keys.filter(state=DkimKey.PENDING):
                    remove_dkim_key(pending, actor=actor)
            for key in dry_run.keys:
                import_dkim_key(rights.domain(key.domain), key, actor=actor)
                done.keys += 1
            if not (done.created or done.changed or done.keys or done.homes):
                return done  # the panel holds all of it already: nothing to record, nothing to apply
            record(
                actor,
                "adopted",
                "host",
                report.source,
                domain=None,
                changes={
                    "created": [None, done.created],
                    "changed": [None, done.changed],
                    "DKIM keys": [None, done.keys],
                    "homes kept": [None, done.homes],
                },
            )
        # The host's own tables are in the panel now: its first apply may put the panel's in their place.
        config_state()  # the row, on a database nothing was applied from yet
        ConfigState.objects.filter(pk=1).update(replace_hand_built=True)
        mark_dirty()  # once: the apply worker installs the whole host in one generation
    return done


@transaction.atomic
def keep_home(mailbox: Mailbox, home: str, *, actor: Actor) -> bool:
    if mailbox.home == home:
        return False
    before = mailbox.home
    Mailbox.objects.filter(pk=mailbox.pk).update(home=home)
    mailbox.home = home
    record(
        actor,
        "kept its mail where it is",
        "mailbox",
        mailbox.ascii_address,
        domain=mailbox.domain,
        changes={"home": [before or None, home]},
    )
    mark_dirty()
    return True


@transaction.atomic
def import_dkim_key(domain: Domain, key: FoundKey, *, actor: Actor) -> DkimKey:
    if not dkim.SELECTOR.fullmatch(key.selector):
        raise ValidationError({"selector": f"“{key.selector}” is not a DNS label."})
    if DkimKey.objects.filter(domain=domain, selector=key.selector).exists():
        raise ValidationError({"selector": f"{domain} already has a key with the selector {key.selector}."})
    stored = DkimKey.objects.create(
        domain=domain,
        selector=key.selector,
        algorithm=key.algorithm,
        bits=key.bits,
        private_key_encrypted=dkim.encrypt(key.private_export),
        public_key=key.public_key,
        state=DkimKey.ACTIVE,
        activated_at=timezone.now(),
    )
    record(
        actor,
        "adopted",
        "DKIM key",
        stored.record_name,
        domain=domain,
        changes={"algorithm": [None, key.algorithm], "bits": [None, key.bits], "state": [None, DkimKey.ACTIVE]},
    )
    mark_dirty()
    return stored
