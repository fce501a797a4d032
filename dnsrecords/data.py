"""Reading the database into dnsrecords' plain inputs."""

from django.conf import settings
from django.db import models

from core.mailhost import host_config
from dnsrecords.expected import REQUIRED, DkimPublished, DomainDns, MailHostDns, Record, expected_records
from dnsrecords.models import RecordCheck
from domains import dkim
from domains.models import DkimKey, Domain, DomainPolicy


def policy_for(domain: Domain) -> DomainPolicy:
    policy, _ = DomainPolicy.objects.get_or_create(domain=domain)
    return policy


def parse_mx(text: str) -> tuple[tuple[int, str], ...]:
    hosts = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        preference, _, host = line.partition(" ")
        hosts.append((int(preference), host.strip().rstrip(".")))
    return tuple(hosts)


def policy_dns(name: str, policy: DomainPolicy | None, dkim: tuple[DkimPublished, ...] = ()) -> DomainDns:
    """DomainDns from a policy row; no row yet means the defaults."""
    if policy is None:
        return DomainDns(name=name, dkim=dkim)
    return DomainDns(
        name=name,
        parked=policy.parked,
        mx=parse_mx(policy.mx_hosts),
        spf_mechanisms=policy.spf_mechanisms,
        spf_all=policy.spf_all,
        dmarc=(
            ("p", policy.dmarc_p),
            ("sp", policy.dmarc_sp),
            ("pct", str(policy.dmarc_pct)),
            ("aspf", policy.dmarc_aspf),
            ("adkim", policy.dmarc_adkim),
            ("fo", policy.dmarc_fo),
        ),
        dmarc_rua=policy.dmarc_rua,
        dmarc_ruf=policy.dmarc_ruf,
        mta_sts_mode=policy.mta_sts_mode,
        mta_sts_max_age=policy.mta_sts_max_age,
        tlsrpt_rua=policy.tlsrpt_rua,
        dkim=dkim,
    )


def domain_dns(domain: Domain, policy: DomainPolicy | None = None) -> DomainDns:
    # An alias domain signs with its target's keys, published under its own name (as Mailu
    # does), unless it still has keys of its own from before.
    keys = DkimKey.objects.filter(domain=domain)
    if domain.alias_of_id and not keys.filter(state=DkimKey.ACTIVE).exists():
        keys = DkimKey.objects.filter(domain_id=domain.alias_of_id)
    dkim = tuple(DkimPublished(k.selector, k.algorithm, k.public_key, k.state) for k in keys.order_by("selector"))
    return policy_dns(domain.name, policy or policy_for(domain), dkim)


def mail_host_dns() -> MailHostDns:
    host = host_config()
    return MailHostDns(
        settings.MAIL_HOSTNAME,
        tuple(settings.MAIL_PUBLIC_ADDRESSES),
        tuple(settings.MTA_STS_ADDRESSES),
        imaps_port=host.imaps_port,
        imap_port=host.imap_port,
        smtps_port=host.smtps_port,
        submission_port=host.submission_port,
    )


def records_for(domain: Domain) -> list[Record]:
    """The domain's records. A DMARC report authorisation (RFC 7489 §7.1) lives in the zone of the
    domain that receives the reports: when the panel manages that domain too, it is listed
    there, with that domain's other records, and not here."""
    managed = set(Domain.objects.values_list("name", flat=True))
    records = [r for r in expected_records(domain_dns(domain), mail_host_dns()) if not (r.zone and r.zone in managed)]
    return records + _report_authorisations(domain)


def _report_authorisations(report_domain: Domain) -> list[Record]:
    suffix = "@" + report_domain.name
    senders = DomainPolicy.objects.filter(
        models.Q(dmarc_rua__endswith=suffix) | models.Q(dmarc_ruf__endswith=suffix, parked=False)
    ).exclude(domain=report_domain)
    names = sorted(senders.values_list("domain__name", flat=True))
    return [
        Record(
            f"{name}._report._dmarc.{report_domain.name}",
            "TXT",
            "v=DMARC1",
            REQUIRED,
            f"Lets this domain receive {name}'s DMARC reports (RFC 7489 §7.1).",
        )
        for name in names
    ]


def unsigned_reason(domain: Domain) -> str:
    """Why mail from the domain leaves without a DKIM signature, or "" when it is signed
    (the same rules the export follows: export.snapshot)."""
    if DomainPolicy.objects.filter(domain=domain, parked=True).exists():
        return ""  # a parked domain sends nothing
    own = DkimKey.objects.filter(domain=domain)
    if own.filter(state=DkimKey.ACTIVE).exists():
        return ""
    if domain.alias_of_id:
        target_keys = DkimKey.objects.filter(domain_id=domain.alias_of_id, state=DkimKey.ACTIVE)
        if not target_keys.exists():
            return f"{domain.alias_of} has no key that signs yet; this domain signs with its keys."
        seen = set(RecordCheck.objects.filter(domain=domain, first_ok_at__isnull=False).values_list("key", flat=True))
        if not any(f"TXT {dkim.record_name(k.selector, domain.name)}" in seen for k in target_keys):
            return "Publish its DKIM record (above) and run “Check now”: it signs once the check sees the record."
        return ""
    if own.filter(state=DkimKey.PENDING).exists():
        return "Publish its DKIM record (above) and run “Check now”: its key signs once the check sees the record."
    return "It has no DKIM key: create one below."
