from django.conf import settings
from django.utils import timezone

from dnsrecords.checks import OK, Lookup, Result, authoritative, check_all, check_with_both
from dnsrecords.data import mail_host_dns
from dnsrecords.expected import Record
from dnsrecords.models import RecordCheck
from domains.actions import key_seen_published
from domains.models import DkimKey, Domain


def lookup() -> Lookup:
    return Lookup(settings.DNS_RESOLVERS, settings.DNS_PORT, settings.DNS_TIMEOUT)


def authoritative_lookup(domain: Domain, resolver: Lookup) -> Lookup | None:
    return authoritative(domain.name, resolver, settings.DNS_AUTHORITATIVE_PORT)


def check_and_save(domain: Domain, records: list[Record]) -> None:
    """Check every record live now and keep the results ("Check now")."""
    resolver = lookup()
    direct = authoritative_lookup(domain, resolver)
    for result in check_all(records, resolver, mail_host_dns(), direct=direct):
        save_result(domain, result)


def check_and_save_one(domain: Domain, record: Record) -> RecordCheck:
    resolver = lookup()
    direct = authoritative_lookup(domain, resolver) if not record.zone else None
    return save_result(domain, check_with_both(record, resolver, direct, mail_host_dns()))


def save_result(domain: Domain, result: Result) -> RecordCheck:
    now = timezone.now()
    previous = RecordCheck.objects.filter(domain=domain, key=result.key).first()
    first_ok = previous.first_ok_at if previous else None
    if result.status == OK and first_ok is None:
        first_ok = now
        _seen_published(domain, result.key)
    check, _ = RecordCheck.objects.update_or_create(
        domain=domain,
        key=result.key,
        defaults={
            "status": result.status,
            "detail": result.detail,
            "found": result.found,
            "checked_at": now,
            "previous_status": previous.status if previous else "",
            "previous_checked_at": previous.checked_at if previous else None,
            "first_ok_at": first_ok,
        },
    )
    return check


def _seen_published(domain: Domain, key: str) -> None:
    """A DKIM record of the domain's own key, seen for the first time: signing may start."""
    for dkim_key in DkimKey.objects.filter(domain=domain, published_at=None).exclude(state=DkimKey.REMOVED):
        if key == f"TXT {dkim_key.record_name}":
            dkim_key.domain = domain
            key_seen_published(dkim_key)
