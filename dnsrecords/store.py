from django.conf import settings
from django.utils import timezone

from dnsrecords.checks import Lookup, Result, authoritative
from dnsrecords.models import RecordCheck
from domains.models import Domain


def lookup() -> Lookup:
    return Lookup(settings.DNS_RESOLVERS, settings.DNS_PORT, settings.DNS_TIMEOUT)


def authoritative_lookup(domain: Domain, resolver: Lookup) -> Lookup | None:
    return authoritative(domain.name, resolver, settings.DNS_AUTHORITATIVE_PORT)


def save_result(domain: Domain, result: Result) -> RecordCheck:
    now = timezone.now()
    previous = RecordCheck.objects.filter(domain=domain, key=result.key).first()
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
        },
    )
    return check
