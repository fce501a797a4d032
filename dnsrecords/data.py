"""Reading the database into dnsrecords' plain inputs."""

from django.conf import settings

from dnsrecords.expected import DkimPublished, DomainDns, MailHostDns, Record, expected_records
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
    keys = DkimKey.objects.filter(domain=domain)
    dkim = tuple(DkimPublished(k.selector, k.algorithm, k.public_key, k.state) for k in keys.order_by("selector"))
    return policy_dns(domain.name, policy or policy_for(domain), dkim)


def mail_host_dns() -> MailHostDns:
    return MailHostDns(settings.MAIL_HOSTNAME, tuple(settings.MAIL_PUBLIC_ADDRESSES), tuple(settings.MTA_STS_ADDRESSES))


def records_for(domain: Domain) -> list[Record]:
    return expected_records(domain_dns(domain), mail_host_dns())
