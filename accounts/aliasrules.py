"""What an alias may deliver to, checked when it is saved (DESIGN decision 10: refuse at write time).

An alias's destinations in our own domains must be live mailboxes or aliases (a typo would
otherwise be accepted and its mail refused later), the alias must not take part in a loop, and
no address may end up deeper than OpenSMTPD expands (core.aliasgraph.MAX_DEPTH). The check
reads the active aliases and alias domains of the whole host (mailboxes only where an alias
names them), so its cost grows with the number of aliases, not of mailboxes.
"""

from django.core.exceptions import ValidationError

from accounts.models import Alias, Mailbox
from core.aliasgraph import MAILBOX, MAX_DEPTH, add_alias_domain_twins, walk
from domains.models import Domain

Table = dict[str, tuple[str, ...]]


def _key(local_part: str, domain: str) -> str:
    return f"{local_part}@{domain}" if local_part else f"@{domain}"


def _alias_table(exclude: int | None) -> Table:
    rows = Alias.objects.filter(active=True, domain__active=True, domain__alias_of=None).exclude(pk=exclude)
    return {
        _key(local, domain): tuple(dest)
        for local, domain, dest in rows.values_list("local_part", "domain__name", "destinations")
    }


def _with_mailboxes_and_twins(aliases: Table, named_too: frozenset[str] = frozenset()) -> Table:
    """The virtual table as the renderer builds it, restricted to what the aliases (and
    `named_too`) can reach."""
    table = dict(aliases)
    named = {d for destinations in aliases.values() for d in destinations} | named_too
    twins = dict(Domain.objects.filter(active=True, alias_of__active=True).values_list("name", "alias_of__name"))
    # An address at an alias domain is its twin at the target domain.
    targets = {f"{d.rpartition('@')[0]}@{twins[d.rpartition('@')[2]]}" for d in named if d.rpartition("@")[2] in twins}
    wanted = named | targets
    local_parts = {address.rpartition("@")[0] for address in wanted}
    mailboxes = Mailbox.objects.filter(active=True, domain__active=True, local_part__in=local_parts)
    for local, domain in mailboxes.values_list("local_part", "domain__name"):
        if (address := f"{local}@{domain}") in wanted:
            table[address] = MAILBOX
    add_alias_domain_twins(table, twins.items())
    return table


def _violations(table: Table) -> dict[str, str]:
    graph = walk(table)
    found = {key: "is part of a loop" for key in graph.looping}
    for key, depth in graph.depth.items():
        if depth > MAX_DEPTH:
            found.setdefault(key, f"would expand {depth} levels deep; OpenSMTPD stops at {MAX_DEPTH}")
    return found


def check_alias(domain: Domain, local_part: str, destinations: list[str], *, alias: Alias | None = None) -> None:
    """Raise a ValidationError naming the destination or the address at fault; change nothing."""
    before = _alias_table(exclude=alias.pk if alias else None)
    after = dict(before) | {_key(local_part, domain.name): tuple(destinations)}
    table = _with_mailboxes_and_twins(after)
    _refuse_dead(destinations, table, "destinations")
    violations = _violations(table)
    # Only what this change causes: a legacy problem elsewhere does not block unrelated edits.
    new = violations.keys() - _violations(_with_mailboxes_and_twins(before)).keys()
    if not new:
        return
    this = _key(local_part, domain.name)
    if this in new:
        raise ValidationError({"destinations": f"With these destinations this alias {violations[this]}."})
    key = sorted(new)[0]
    raise ValidationError({"destinations": f"With these destinations, {key} {violations[key]}."})


def _refuse_dead(destinations: list[str], table: Table, field: str) -> None:
    """A destination in one of our domains must be a live mailbox or alias there (directly, or
    through an alias domain); an outside address is relayed as it is."""
    ours = dict(Domain.objects.values_list("name", "active"))
    for destination in destinations:
        domain_name = destination.rpartition("@")[2]
        if domain_name not in ours:
            continue
        if not ours[domain_name]:
            raise ValidationError({field: f"{destination}: the domain {domain_name} is disabled here."})
        if destination not in table:
            raise ValidationError(
                {field: f"{destination} is neither a mailbox nor an alias here: add it first, or check the spelling."}
            )


def check_receives_mail(address: str, field: str) -> None:
    """Raise a ValidationError on `field` unless mail to `address` would be delivered somewhere."""
    _refuse_dead([address], _with_mailboxes_and_twins(_alias_table(exclude=None), frozenset([address])), field)
