"""Live checks against a real authoritative nameserver on loopback: one zone published exactly
as the panel says, one with the mistakes people make; every verdict asserted."""

import re

import dkim
import dns.resolver
import pytest
import spf as pyspf  # the reference implementation, a test-only dependency
from django.conf import settings

from audit.log import COMMAND_LINE
from dnsrecords.checks import Lookup, check_all
from dnsrecords.data import mail_host_dns, policy_for, records_for
from dnsrecords.models import RecordCheck
from dnsrecords.spf import Verdict, check_host
from dnsrecords.zonefile import zone_text
from domains import actions
from domains import dkim as panel_dkim
from domains.models import DkimKey
from tests.dns.nameserver import Nameserver, free_port
from tests.helpers import client_for

pytestmark = pytest.mark.dns


@pytest.fixture
def nameserver(tmp_path, settings):
    settings.MAIL_HOSTNAME = "mail.good.example"
    settings.MAIL_PUBLIC_ADDRESSES = ["192.0.2.10"]
    settings.DNS_PORT = free_port()
    settings.DNS_RESOLVERS = ["127.0.0.1"]
    settings.DNS_TIMEOUT = 2
    server = Nameserver(tmp_path / "nsd", settings.DNS_PORT)
    yield server
    server.stop()


def publish(server: Nameserver, domain, extra: str = "", drop: str = "") -> None:
    text = zone_text(domain.name, records_for(domain))
    lines = [line for line in text.splitlines() if not (drop and re.search(drop, line))]
    server.add_zone(domain.name, "\n".join(lines) + "\n" + extra)


def verdicts(domain) -> dict[str, tuple[str, str]]:
    lookup = Lookup(["127.0.0.1"], port=settings.DNS_PORT, timeout=2)
    results = check_all(records_for(domain), lookup, mail_host_dns())
    return {r.key: (r.status, r.detail) for r in results}


REVERSE = "$TTL 3600\n10 IN PTR mail.good.example.\n66 IN PTR mail.good.example.\n67 IN PTR elsewhere.example.\n"


def test_a_zone_published_as_the_page_says_checks_ok_everywhere(nameserver, db, admin_client_for_dns):
    good = actions.create_domain("good.example", actor=COMMAND_LINE)
    s1 = actions.create_dkim_key(good, actor=COMMAND_LINE, selector="s1")
    actions.activate_dkim_key(s1, actor=COMMAND_LINE, unpublished_ok=True)
    actions.create_dkim_key(good, actor=COMMAND_LINE, selector="ed1", algorithm="ed25519")
    publish(nameserver, good)
    nameserver.add_zone("2.0.192.in-addr.arpa", REVERSE)
    nameserver.start()
    results = verdicts(good)
    assert {status for status, _ in results.values()} == {"ok"}, results
    # MX, SPF, three DKIM keys (the one every new domain gets, s1, ed1), DMARC, TLSRPT, MTA-STS
    # TXT and A, six client SRV records, autoconfig and autodiscover A, the mail host's A and PTR.
    assert len(results) == 19
    assert results["SRV _imaps._tcp.good.example"][0] == "ok" and results["SRV _pop3._tcp.good.example"][0] == "ok"
    assert "1 of 10 lookups used" in results["TXT good.example"][1]

    # Through the page: "Check now" stores each result with its time.
    response = admin_client_for_dns.post("/domains/good.example/dns/check/")
    assert response.status_code == 302
    assert set(RecordCheck.objects.values_list("status", flat=True)) == {"ok"}


def test_a_zone_with_the_usual_mistakes_gets_the_right_verdict_for_each(nameserver, db):
    good = actions.create_domain("good.example", actor=COMMAND_LINE)
    publish(nameserver, good)
    bad = actions.create_domain("bad.example", actor=COMMAND_LINE)
    policy = policy_for(bad)
    actions.update_policy(policy, actor=COMMAND_LINE, mx_hosts="10 mx.bad.example")
    missing = actions.create_dkim_key(bad, actor=COMMAND_LINE, selector="missing")
    actions.activate_dkim_key(missing, actor=COMMAND_LINE, unpublished_ok=True)
    mismatched = actions.create_dkim_key(bad, actor=COMMAND_LINE, selector="wrongkey")
    other_key = panel_dkim.generate("rsa").public_key
    publish(
        nameserver,
        bad,
        drop=r"^(missing\._domainkey|wrongkey\._domainkey|_mta-sts|_dmarc)\s",
        extra="\n".join(
            [
                "mx IN CNAME mail.good.example.",
                '@ IN TXT "v=spf1 a -all"',
                f'wrongkey._domainkey IN TXT "v=DKIM1; k=rsa; p={other_key[:200]}" "{other_key[200:]}"',
                '_mta-sts IN TXT "v=STSv1; id=20200101"',
                '_dmarc IN TXT "v=DMARC1; p=none; sp=reject; pct=100; aspf=s; adkim=s; fo=1"',
            ]
        )
        + "\n",
    )
    nameserver.add_zone("2.0.192.in-addr.arpa", REVERSE)
    nameserver.start()
    results = verdicts(bad)
    assert results["MX bad.example 10 mx.bad.example."][0] == "conflicting"
    assert "is a CNAME" in results["MX bad.example 10 mx.bad.example."][1]
    assert results["TXT bad.example"] == ("conflicting", "2 SPF records: receivers treat this as an error.")
    assert results["TXT missing._domainkey.bad.example"][0] == "missing"
    assert results["TXT wrongkey._domainkey.bad.example"] == ("different", "The published key is not this key.")
    assert results["TXT _mta-sts.bad.example"][0] == "different"
    assert results["TXT _mta-sts.bad.example"][1].startswith("Stale policy id")
    assert results["TXT _dmarc.bad.example"][0] == "different"
    assert "p=none instead of p=reject" in results["TXT _dmarc.bad.example"][1]
    assert mismatched.state == "pending"


@pytest.mark.parametrize(
    "address,status,detail",
    [
        ("192.0.2.66", "conflicting", "does not resolve back to 192.0.2.66"),
        ("192.0.2.67", "different", "names elsewhere.example, not mail.good.example"),
        ("192.0.2.68", "missing", "has no reverse DNS"),
    ],
)
def test_the_mail_hosts_reverse_dns_must_forward_confirm(nameserver, db, settings, address, status, detail):
    settings.MAIL_PUBLIC_ADDRESSES = [address]
    good = actions.create_domain("good.example", actor=COMMAND_LINE)
    publish(nameserver, good, drop=r"^mail\s", extra="mail IN A 192.0.2.10\n")
    nameserver.add_zone("2.0.192.in-addr.arpa", REVERSE)
    nameserver.start()
    result = verdicts(good)[f"PTR {address.split('.')[-1]}.2.0.192.in-addr.arpa"]
    assert result[0] == status and detail in result[1]


def test_spf_is_evaluated_not_compared(nameserver, db):
    good = actions.create_domain("good.example", actor=COMMAND_LINE)
    includes = "\n".join(f'inc{n} IN TXT "v=spf1 include:inc{n + 1}.good.example -all"' for n in range(11))
    publish(
        nameserver,
        good,
        drop=r'^@\s+\d+\s+IN TXT\s+"v=spf1',
        extra=includes + '\n@ IN TXT "v=spf1 include:inc0.good.example -all"\n',
    )
    nameserver.start()
    status, detail = verdicts(good)["TXT good.example"]
    assert status == "different" and "permerror" in detail


def test_a_message_signed_with_the_exported_key_verifies_against_the_published_record(nameserver, db):
    good = actions.create_domain("good.example", actor=COMMAND_LINE)
    key = actions.create_dkim_key(good, actor=COMMAND_LINE, selector="s1")
    actions.activate_dkim_key(key, actor=COMMAND_LINE, unpublished_ok=True)
    publish(nameserver, good)
    nameserver.start()
    private = panel_dkim.decrypt(DkimKey.objects.get(pk=key.pk).private_key_encrypted)
    message = b"From: alice@good.example\r\nTo: bob@example.net\r\nSubject: hello\r\n\r\nHello.\r\n"
    signature = dkim.sign(message, b"s1", b"good.example", private, include_headers=[b"from", b"to", b"subject"])
    lookup = Lookup(["127.0.0.1"], port=nameserver.port)

    def dnsfunc(name, timeout=5):
        values = lookup.txt(name.decode() if isinstance(name, bytes) else name)
        return values[0].encode() if values else None

    assert dkim.verify(signature + message, dnsfunc=dnsfunc)
    assert not dkim.verify(signature + message.replace(b"Hello.", b"Hullo."), dnsfunc=dnsfunc)


def test_a_dead_nameserver_gives_an_error_quickly(db, settings):
    settings.MAIL_HOSTNAME = "mail.good.example"
    good = actions.create_domain("good.example", actor=COMMAND_LINE)
    import time

    started = time.monotonic()
    results = check_all(records_for(good), Lookup(["127.0.0.1"], port=free_port(), timeout=0.5), mail_host_dns())
    assert {r.status for r in results} == {"error"}
    assert time.monotonic() - started < 5


def test_it_says_so_when_the_domains_own_servers_already_have_a_change_resolvers_do_not(
    nameserver, db, tmp_path, settings
):
    good = actions.create_domain("good.example", actor=COMMAND_LINE)
    publish(nameserver, good)
    nameserver.start()  # the authoritative server, up to date
    stale = Nameserver(tmp_path / "stale", free_port())  # stands in for a resolver with an old cached answer
    publish(stale, good, drop=r"^_smtp\._tls\s")
    stale.start()
    try:
        settings.DNS_AUTHORITATIVE_PORT = nameserver.port
        settings.DNS_PORT = stale.port
        client = client_for(actions_admin())
        client.post("/domains/good.example/dns/check/")
        check = RecordCheck.objects.get(key="TXT _smtp._tls.good.example")
        assert check.status == "missing"
        assert "own nameservers already answer “ok”" in check.detail and "propagation" in check.detail
        assert RecordCheck.objects.get(key="TXT good.example").status == "ok"
    finally:
        stale.stop()


def actions_admin():
    from accounts.actions import create_admin

    return create_admin("root", "correct horse battery staple", actor=COMMAND_LINE, superadmin=True)


def test_a_removed_key_is_checked_until_its_record_is_gone(nameserver, db, tmp_path):
    good = actions.create_domain("good.example", actor=COMMAND_LINE)
    old = actions.create_dkim_key(good, actor=COMMAND_LINE, selector="old")
    actions.activate_dkim_key(old, actor=COMMAND_LINE, unpublished_ok=True)
    new = actions.create_dkim_key(good, actor=COMMAND_LINE, selector="new")
    actions.activate_dkim_key(new, actor=COMMAND_LINE, unpublished_ok=True)
    publish(nameserver, good)  # published while old was retired
    old.refresh_from_db()
    actions.remove_dkim_key(old, actor=COMMAND_LINE)
    nameserver.start()
    assert verdicts(good)["TXT old._domainkey.good.example"] == (
        "different",
        "Still published: delete this record at your DNS host.",
    )
    nameserver.stop()
    publish(nameserver, good)  # the user deleted it
    nameserver.start()
    assert verdicts(good)["TXT old._domainkey.good.example"][0] == "ok"


# --- SPF: evaluated as the reference implementation does, and never an exception -----------------

SPF_ZONE = "\n".join(
    [
        'cidr IN TXT "v=spf1 a:relay.spf.example/24//64 -all"',
        'exact IN TXT "v=spf1 a:relay.spf.example -all"',
        "relay IN A 192.0.2.200",
        "relay IN AAAA 2001:db8::200",
        'mx24 IN TXT "v=spf1 mx:mxed.spf.example/24 -all"',
        "mxed IN MX 10 relay.spf.example.",
        'broken IN TXT "v=spf1 ip4:300.1.1.1/40 -all"',
        'via-include IN TXT "v=spf1 include:broken.spf.example -all"',
        'include-none IN TXT "v=spf1 include:nothing.spf.example -all"',
        'redirected IN TXT "v=spf1 redirect=target.spf.example"',
        'target IN TXT "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/64 -all"',
        'exists IN TXT "v=spf1 exists:%{ir}.%{v}._allow.spf.example -all"',
        "10.2.0.192.in-addr._allow IN A 127.0.0.2",
        'soft IN TXT "v=spf1 ?ip4:192.0.2.10 ~all"',
        'two IN TXT "v=spf1 -all"',
        'two IN TXT "v=spf1 +all"',
        'voids IN TXT "v=spf1 a:v1.spf.example a:v2.spf.example a:v3.spf.example ip4:192.0.2.0/24 -all"',
        # chain0 needs 11 lookups, chain1 the 10 SPF allows.
        *(f'chain{n} IN TXT "v=spf1 include:chain{n + 1}.spf.example -all"' for n in range(11)),
        'chain11 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"',
        'manymx IN TXT "v=spf1 mx -all"',
        *(f"manymx IN MX {n} relay.spf.example." for n in range(11)),
    ]
)
SPF_NAMES = sorted({line.split()[0] for line in SPF_ZONE.splitlines() if '"v=spf1' in line})


@pytest.fixture
def reference_spf(nameserver, monkeypatch):
    """pyspf, unchanged, asking the test nameserver through dnspython's default resolver."""
    nameserver.add_zone("spf.example", SPF_ZONE + "\n")
    nameserver.start()
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = ["127.0.0.1"], nameserver.port
    monkeypatch.setattr(dns.resolver, "default_resolver", resolver)

    def check(domain: str, address: str) -> str:
        query = pyspf.query(i=address, s=f"postmaster@{domain}", h="mail.good.example")
        return query.check()[0]

    return check


@pytest.mark.filterwarnings("ignore:please use dns.resolver.resolve:DeprecationWarning")
@pytest.mark.parametrize("address", ["192.0.2.10", "198.51.100.7", "2001:db8::10"])
def test_it_reaches_the_verdict_the_reference_implementation_reaches(reference_spf, address):
    lookup = Lookup(["127.0.0.1"], port=settings.DNS_PORT, timeout=2)
    ours = {name: check_host(f"{name}.spf.example", address, lookup).result for name in SPF_NAMES}
    theirs = {name: reference_spf(f"{name}.spf.example", address) for name in SPF_NAMES}
    assert ours == theirs
    assert ours["broken"] == ours["via-include"] == ours["chain0"] == ours["voids"] == "permerror"
    assert ours["cidr"] == ("fail" if address == "198.51.100.7" else "pass")
    assert ours["chain1"] == ("pass" if address == "192.0.2.10" else "fail")
    assert ours["exact"] == "fail"


def test_a_malformed_record_gives_a_permerror_with_its_reason_never_an_exception(nameserver):
    nameserver.add_zone("spf.example", SPF_ZONE + "\n")
    nameserver.start()
    lookup = Lookup(["127.0.0.1"], port=settings.DNS_PORT, timeout=2)
    assert check_host("broken.spf.example", "192.0.2.10", lookup) == Verdict(
        "permerror",
        0,
        "“ip4:300.1.1.1/40”: 300.1.1.1 is not an IPv4 address (four numbers from 0 to 255, like 192.0.2.1)",
    )
    via = check_host("via-include.spf.example", "192.0.2.10", lookup)
    assert via.result == "permerror"
    assert via.reason.startswith("in the SPF record of broken.spf.example, reached through “include:broken")
    assert "300.1.1.1 is not an IPv4 address" in via.reason
    assert "more than 10 DNS lookups" in check_host("chain0.spf.example", "192.0.2.10", lookup).reason


def spf_row(domain) -> int:
    return next(i for i, r in enumerate(records_for(domain)) if r.type == "TXT" and r.name == domain.name)


@pytest.mark.parametrize(
    "published,third_party,reason",
    [
        ("v=spf1 ip4:300.1.1.1/40 -all", "", "“ip4:300.1.1.1/40”: 300.1.1.1 is not an IPv4 address"),
        (
            "v=spf1 include:_spf.third.example -all",
            '_spf IN TXT "v=spf1 ip4:not-an-ip -all"\n',
            "in the SPF record of _spf.third.example, reached through “include:_spf.third.example”:"
            " “ip4:not-an-ip”: not-an-ip is not an IPv4 address",
        ),
    ],
)
def test_a_malformed_spf_record_is_a_permerror_finding_and_check_now_still_answers(
    nameserver, db, settings, admin_client_for_dns, published, third_party, reason
):
    settings.DNS_AUTHORITATIVE_PORT = nameserver.port
    good = actions.create_domain("good.example", actor=COMMAND_LINE)
    publish(nameserver, good, drop=r'^@\s+\d+\s+IN TXT\s+"v=spf1', extra=f'@ IN TXT "{published}"\n')
    nameserver.add_zone("third.example", third_party)
    nameserver.start()
    status, detail = verdicts(good)["TXT good.example"]
    assert status == "different" and "permerror" in detail and reason in detail, detail

    assert admin_client_for_dns.post("/domains/good.example/dns/check/").status_code == 302
    check = RecordCheck.objects.get(domain=good, key="TXT good.example")
    assert check.status == "different" and reason in check.detail
    row = admin_client_for_dns.get(f"/domains/good.example/dns/check/{spf_row(good)}/")
    assert row.status_code == 200
    assert "permerror" in row.content.decode()


def test_an_a_mechanism_with_a_prefix_length_lets_its_whole_network_send(nameserver, db, settings):
    settings.MAIL_PUBLIC_ADDRESSES = ["192.0.2.10", "2001:db8::10"]
    good = actions.create_domain("good.example", actor=COMMAND_LINE)
    actions.update_policy(policy_for(good), actor=COMMAND_LINE, spf_mechanisms="a:relay.good.example/24//64")
    relay = "relay IN A 192.0.2.200\nrelay IN AAAA 2001:db8::200\n"
    publish(nameserver, good, extra=relay)
    nameserver.start()
    assert verdicts(good)["TXT good.example"] == ("ok", "The mail host passes; 1 of 10 lookups used.")

    nameserver.stop()
    publish(
        nameserver,
        good,
        drop=r'^@\s+\d+\s+IN TXT\s+"v=spf1',
        extra=relay + '@ IN TXT "v=spf1 a:relay.good.example -all"\n',
    )
    nameserver.start()
    status, detail = verdicts(good)["TXT good.example"]
    assert status == "different"
    assert "the mail host 192.0.2.10, 2001:db8::10 gets “fail”" in detail


def test_a_parked_domains_records_published_as_the_page_says_check_ok(nameserver, db, settings, admin_client_for_dns):
    settings.DNS_AUTHORITATIVE_PORT = nameserver.port
    parked = actions.create_domain("parked.example", actor=COMMAND_LINE)
    actions.update_policy(policy_for(parked), actor=COMMAND_LINE, parked=True)
    publish(nameserver, parked)
    nameserver.start()
    results = verdicts(parked)
    assert {status for status, _ in results.values()} == {"ok"}, results
    assert results["TXT parked.example"][1] == "No server may send as this domain, the mail host included."

    assert admin_client_for_dns.post("/domains/parked.example/dns/check/").status_code == 302
    assert set(RecordCheck.objects.filter(domain=parked).values_list("status", flat=True)) == {"ok"}


def test_a_parked_domain_whose_spf_lets_the_mail_host_send_is_told_so(nameserver, db):
    parked = actions.create_domain("parked.example", actor=COMMAND_LINE)
    actions.update_policy(policy_for(parked), actor=COMMAND_LINE, parked=True)
    # A web site on the mail host, and an SPF record that lets "a" send.
    extra = '@ IN A 192.0.2.10\n@ IN TXT "v=spf1 a ~all"\n'
    publish(nameserver, parked, drop=r'^@\s+\d+\s+IN TXT\s+"v=spf1', extra=extra)
    nameserver.start()
    status, detail = verdicts(parked)["TXT parked.example"]
    assert status == "different"
    assert detail == (
        "the mail host 192.0.2.10 gets “pass”, but this domain sends no mail; it ends with ~all, not -all."
    )


def test_the_dmarc_report_authorisation_record_checks_ok(nameserver, db):
    good = actions.create_domain("good.example", actor=COMMAND_LINE)
    actions.update_policy(policy_for(good), actor=COMMAND_LINE, dmarc_rua="reports@dmarc.example")
    publish(nameserver, good)
    nameserver.add_zone("dmarc.example", 'good.example._report._dmarc IN TXT "v=DMARC1"\n')
    nameserver.start()
    results = verdicts(good)
    assert results["TXT good.example._report._dmarc.dmarc.example"] == (
        "ok",
        "dmarc.example accepts this domain's DMARC reports.",
    )
    assert results["TXT _dmarc.good.example"][0] == "ok"

    nameserver.stop()
    nameserver.add_zone("dmarc.example", "")
    nameserver.start()
    status, detail = verdicts(good)["TXT good.example._report._dmarc.dmarc.example"]
    assert status == "missing" and "dmarc.example has not agreed to receive" in detail
