"""The export: the domains an admin manages, their mailboxes and aliases, as CSV rows.

The rows read back through the import unchanged (tests/test_transfer_export.py holds it to
that): quotas are written exactly ("1536M", not a rounded "1.5G"), domains and destinations as
people read them (U-labels). Password hashes only when asked, and only for a superadmin; the
caller checks that (transfer.views, the exportcsv command). Three queries whatever the size,
read in chunks, so 100,000 mailboxes stream without being held in memory.
"""

from collections.abc import Iterator

from django.db.models import QuerySet

from accounts.models import Alias, Mailbox
from core.addresses import display_domain
from domains.models import Domain


def exact_quota(megabytes: int) -> str:
    """A quota the import reads back to the same number: 0 → "unlimited", 2048 → "2G", 1500 → "1500M"."""
    if not megabytes:
        return "unlimited"
    for unit, size in (("T", 1024**2), ("G", 1024)):
        if megabytes % size == 0:
            return f"{megabytes // size}{unit}"
    return f"{megabytes}M"


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _shown(address: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local}@{display_domain(domain)}"


def rows(domains: QuerySet[Domain], *, hashes: bool = False) -> Iterator[list[str]]:
    """Domain rows (the ones others deliver as first), then mailboxes, then aliases."""
    ids = list(domains.order_by().values_list("pk", flat=True))
    listed = Domain.objects.filter(pk__in=ids).select_related("alias_of")
    for domain in sorted(listed, key=lambda d: (d.alias_of_id is not None, d.name)):
        target = display_domain(domain.alias_of.name) if domain.alias_of else ""
        yield [
            "domain",
            domain.display_name,
            "",
            exact_quota(domain.default_quota_mb),
            _yes_no(domain.active),
            "",
            target,
        ]
    mailboxes = (
        Mailbox.objects.filter(domain_id__in=ids)
        .order_by("domain__name", "local_part")
        .values_list("local_part", "domain__name", "display_name", "quota_mb", "active", "password_hash")
    )
    for local, domain, name, quota, active, password_hash in mailboxes.iterator(chunk_size=5000):
        address = f"{local}@{display_domain(domain)}"
        yield ["mailbox", address, name, exact_quota(quota), _yes_no(active), password_hash if hashes else "", ""]
    aliases = (
        Alias.objects.filter(domain_id__in=ids)
        .order_by("domain__name", "local_part")
        .values_list("local_part", "domain__name", "active", "destinations")
    )
    for local, domain, active, destinations in aliases.iterator(chunk_size=5000):
        address = f"{local or '*'}@{display_domain(domain)}"
        yield ["alias", address, "", "", _yes_no(active), "", " ".join(_shown(d) for d in destinations)]
