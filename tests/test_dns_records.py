"""The records a domain must publish, the DNS page that shows them, and DKIM rotation."""

import dns.rdatatype
import dns.zone
import pytest
from pytest_django.asserts import assertContains, assertNotContains

from audit.log import COMMAND_LINE
from audit.models import AuditEntry
from core.mailhost import host_config
from dnsrecords.data import records_for
from dnsrecords.expected import DomainDns, MailHostDns, expected_records, mta_sts_id
from dnsrecords.zonefile import txt_strings, zone_text
from domains import actions
from domains.models import DkimKey, Domain
from export.render import render
from export.snapshot import take_snapshot
from tests.helpers import POLICY_FORM

HOST = MailHostDns("mail.example.org", ("192.0.2.10", "2001:db8::10"))


def by_name_and_type(records):
    return {(r.name, r.type): r for r in records}


def test_a_new_domain_is_complete_with_the_guides_defaults(domain):
    records = by_name_and_type(records_for(domain))
    assert records[("example.org", "MX")].value == "10 mail.example.org."
    assert records[("example.org", "TXT")].value == "v=spf1 mx -all"
    assert records[("_dmarc.example.org", "TXT")].value == (
        "v=DMARC1; p=reject; sp=reject; aspf=s; adkim=s; fo=1; "
        "rua=mailto:postmaster@example.org; ruf=mailto:postmaster@example.org"
    )
    assert records[("_smtp._tls.example.org", "TXT")].value == "v=TLSRPTv1; rua=mailto:postmaster@example.org"
    assert records[("_mta-sts.example.org", "TXT")].value.startswith("v=STSv1; id=")
    assert records[("mail.example.org", "A")].value == "192.0.2.10"
    assert records[("mail.example.org", "AAAA")].value == "2001:db8::10"
    assert records[("10.2.0.192.in-addr.arpa", "PTR")].value == "mail.example.org."
    assert {r.level for r in records.values()} <= {"required", "recommended", "optional"}
    assert all(r.reason for r in records.values())


def test_a_parked_domain_publishes_that_it_sends_and_receives_nothing():
    records = expected_records(DomainDns("parked.example", parked=True), HOST)
    assert [(r.name, r.type, r.value) for r in records] == [
        ("parked.example", "MX", "0 ."),
        ("parked.example", "TXT", "v=spf1 -all"),
        ("_dmarc.parked.example", "TXT", "v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s"),
        ("_mta-sts.parked.example", "TXT", "v=STSv1"),
    ]
    assert records[-1].level == "delete"  # a leftover MTA-STS record is flagged


def test_reports_to_another_domain_need_its_authorisation_record():
    records = expected_records(DomainDns("example.org", dmarc_rua="reports@dmarc.example"), HOST)
    auth = [r for r in records if r.name == "example.org._report._dmarc.dmarc.example"]
    assert auth and auth[0].value == "v=DMARC1" and auth[0].zone == "dmarc.example"


def test_the_mta_sts_id_changes_exactly_when_the_policy_does():
    base = DomainDns("example.org")
    assert mta_sts_id(base, HOST) == mta_sts_id(DomainDns("example.org"), HOST)
    assert mta_sts_id(base, HOST) != mta_sts_id(DomainDns("example.org", mta_sts_mode="enforce"), HOST)
    assert mta_sts_id(base, HOST) != mta_sts_id(DomainDns("example.org", mx=((10, "mx2.example.org"),)), HOST)
    assert mta_sts_id(base, HOST) == mta_sts_id(DomainDns("example.org", spf_all="~all"), HOST)


def test_long_txt_values_are_split_into_strings_of_at_most_255_bytes():
    quoted = txt_strings("p=" + "A" * 700)
    parts = quoted.split('" "')
    assert len(parts) == 3 and all(len(p.strip('"')) <= 255 for p in parts)


def test_the_zone_file_parses_back_record_by_record(domain):
    actions.create_dkim_key(domain, actor=COMMAND_LINE, bits=4096, selector="big")
    records = records_for(domain)
    # Registrars keep SOA and NS themselves; the export holds only what the user must add.
    zone = dns.zone.from_text(
        zone_text("example.org", records), origin="example.org", relativize=False, check_origin=False
    )
    in_zone = [r for r in records if r.name == "example.org" or r.name.endswith(".example.org")]
    assert in_zone and len(in_zone) == sum(len(rdataset) for _, rdataset in zone.iterate_rdatasets())
    for record in in_zone:
        rdataset = zone.find_rdataset(record.name + ".", record.type)
        assert rdataset.ttl == record.ttl
        values = [b"".join(r.strings).decode() if record.type == "TXT" else r.to_text() for r in rdataset]
        assert record.value in values, (record, values)


def test_the_dns_page_shows_every_record_with_both_copy_forms(domain_admin_client, domain):
    page = domain_admin_client.get("/domains/example.org/dns/")
    assertContains(page, 'data-copy="v=spf1 mx -all"')
    assertContains(page, 'data-copy="&quot;v=spf1 mx -all&quot;"')
    assertContains(page, "not checked yet")
    zone = domain_admin_client.get("/domains/example.org/dns/zone/")
    assert zone["Content-Disposition"] == 'attachment; filename="example.org.zone"'
    assert b"$ORIGIN example.org." in zone.content


def test_a_new_domain_gets_a_key_that_signs_only_once_its_record_is_seen(domain_admin_client, domain):
    key = DkimKey.objects.get(domain=domain)
    assert key.state == "pending" and key.bits == 2048 and key.published_at is None
    page = domain_admin_client.get("/domains/example.org/dns/")
    assertContains(page, "Mail from example.org leaves unsigned.")
    assertContains(page, f"{key.selector}._domainkey.example.org.")
    assert "rspamd/dkim/example.org" not in " ".join(render(take_snapshot(), host_config()))
    actions.key_seen_published(key)  # what a live check does when it finds the record (tests/dns)
    key.refresh_from_db()
    assert key.state == "active" and key.published_at
    assert f"rspamd/dkim/example.org.{key.selector}.key" in render(take_snapshot(), host_config())
    assertNotContains(domain_admin_client.get("/domains/example.org/dns/"), "leaves unsigned")


def test_signing_never_switches_to_a_key_whose_record_was_not_seen_unless_told_to(domain_admin_client, domain):
    first = DkimKey.objects.get(domain=domain)
    actions.key_seen_published(first)
    second = actions.create_dkim_key(domain, actor=COMMAND_LINE, selector="next")
    response = domain_admin_client.post(f"/domains/example.org/dns/dkim/{second.pk}/activate/", follow=True)
    assertContains(response, "has not been seen in DNS yet")
    second.refresh_from_db()
    assert second.state == "pending"
    domain_admin_client.post(f"/domains/example.org/dns/dkim/{second.pk}/activate/", {"unpublished_ok": "yes"})
    second.refresh_from_db()
    assert second.state == "active"
    entry = AuditEntry.objects.get(action="activated", object_name="next._domainkey.example.org")
    assert entry.changes["record seen in DNS"] == [None, False]


def test_rotation_for_people_who_paste_dns_by_hand(domain_admin_client, domain):
    first = DkimKey.objects.get(domain=domain)
    actions.key_seen_published(first)  # the new domain's key, seen published: it signs
    domain_admin_client.post("/domains/example.org/dns/dkim/new/", {"kind": "rsa-2048", "selector": "next"})
    second = DkimKey.objects.get(selector="next")
    assertContains(domain_admin_client.get("/domains/example.org/dns/"), "next._domainkey.example.org.")
    files = render(take_snapshot(), host_config())
    assert f"rspamd/dkim/example.org.{first.selector}.key" in files and "rspamd/dkim/example.org.next.key" not in files
    actions.key_seen_published(second)  # published and seen: still pending, the admin switches
    second.refresh_from_db()
    assert second.state == "pending"
    domain_admin_client.post(f"/domains/example.org/dns/dkim/{second.pk}/activate/")
    first.refresh_from_db()
    assert first.state == "retired" and first.retired_at
    files = render(take_snapshot(), host_config())
    assert "rspamd/dkim/example.org.next.key" in files and f"rspamd/dkim/example.org.{first.selector}.key" not in files
    levels = {r.name: r.level for r in records_for(domain) if "_domainkey" in r.name}
    assert levels == {f"{first.selector}._domainkey.example.org": "optional", "next._domainkey.example.org": "required"}
    response = domain_admin_client.post(f"/domains/example.org/dns/dkim/{second.pk}/remove/", follow=True)
    assertContains(response, "Switch signing to another key before removing the active one.")
    domain_admin_client.post(f"/domains/example.org/dns/dkim/{first.pk}/remove/")
    first.refresh_from_db()
    assert first.state == "removed" and first.private_key_encrypted == ""
    levels = {r.name: r.level for r in records_for(domain) if "_domainkey" in r.name}
    assert levels[f"{first.selector}._domainkey.example.org"] == "delete"
    zone = domain_admin_client.get("/domains/example.org/dns/zone/").content.decode()
    assert f"; delete: {first.selector}._domainkey TXT" in zone
    domain_admin_client.post(f"/domains/example.org/dns/dkim/{first.pk}/remove/")  # "Forget", once it is gone
    assert list(DkimKey.objects.values_list("selector", flat=True)) == ["next"]


def test_key_rules(domain_admin_client, domain):
    DkimKey.objects.filter(domain=domain).delete()
    response = domain_admin_client.post("/domains/example.org/dns/dkim/new/", {"kind": "ed25519"})
    assertContains(response, "Add an RSA key first")
    response = domain_admin_client.post(
        "/domains/example.org/dns/dkim/new/", {"kind": "rsa-2048", "selector": "bad_selector"}
    )
    assertContains(response, "A selector is one DNS label")
    with pytest.raises(ValueError, match="shorter than 2048"):
        from domains import dkim

        dkim.generate("rsa", 1024)
    assert not DkimKey.objects.exists()


def test_private_keys_never_appear_in_a_page(domain_admin_client, domain):
    key = DkimKey.objects.get(domain=domain)
    page = domain_admin_client.get("/domains/example.org/dns/").content.decode()
    assert "PRIVATE KEY" not in page and key.private_key_encrypted not in page
    assert key.public_key in page


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("spf_mechanisms", "mx -all", "the final “all” is chosen below"),
        ("spf_mechanisms", "mx bogus:x", "is not an SPF mechanism"),
        ("spf_mechanisms", " ".join(f"include:i{n}.example" for n in range(11)), "SPF allows 10 at most"),
        ("mx_hosts", "mail.example.org", "write a preference"),
        ("dmarc_rua", "not an address", "is not an email address"),
        ("mta_sts_max_age", "60", "between a day"),
    ],
)
def test_policy_form_errors(domain_admin_client, domain, field, value, message):
    data = dict(POLICY_FORM)
    response = domain_admin_client.post("/domains/example.org/dns/policy/", data | {field: value})
    assertContains(response, message)


def test_the_mta_sts_policy_is_served_to_its_host_with_crlf(client, domain, settings):
    settings.ALLOWED_HOSTS = ["mta-sts.example.org", "mta-sts.unknown.example", "testserver"]
    response = client.get("/.well-known/mta-sts.txt", HTTP_HOST="mta-sts.example.org")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == b"version: STSv1\r\nmode: testing\r\nmx: mail.example.org\r\nmax_age: 86400\r\n"
    assert client.get("/.well-known/mta-sts.txt", HTTP_HOST="mta-sts.unknown.example").status_code == 404
    assertNotContains(client.get("/.well-known/mta-sts.txt"), "STSv1", status_code=404)


def test_opting_out_of_mta_sts_serves_mode_none_under_a_new_id_until_max_age_passes(
    domain_admin_client, domain, settings
):
    from domains.models import DomainPolicy

    settings.ALLOWED_HOSTS = ["mta-sts.example.org"]
    DomainPolicy.objects.update_or_create(domain=domain, defaults={"mta_sts_mode": "enforce"})
    enforcing = {r.name: r for r in records_for(domain)}["_mta-sts.example.org"]
    DomainPolicy.objects.filter(domain=domain).update(mta_sts_mode="none")
    opting_out = {r.name: r for r in records_for(domain)}
    assert opting_out["_mta-sts.example.org"].value != enforcing.value
    assert "Remove this record" in opting_out["_mta-sts.example.org"].reason and "mta-sts.example.org" in opting_out
    policy = domain_admin_client.get("/.well-known/mta-sts.txt", HTTP_HOST="mta-sts.example.org")
    assert policy.status_code == 200 and b"mode: none\r\n" in policy.content


def test_an_alias_domain_serves_the_mta_sts_policy_it_advertises_and_is_in_the_zone_of_all(
    superadmin_client, domain, settings
):
    settings.ALLOWED_HOSTS = ["mta-sts.example.net", "testserver"]
    actions.create_domain("example.net", actor=COMMAND_LINE, alias_of=domain)
    advertised = {r.name for r in records_for(Domain.objects.get(name="example.net"))}
    assert "_mta-sts.example.net" in advertised and "mta-sts.example.net" in advertised
    policy = superadmin_client.get("/.well-known/mta-sts.txt", HTTP_HOST="mta-sts.example.net")
    assert policy.status_code == 200 and policy.content.startswith(b"version: STSv1\r\n")
    assert "$ORIGIN example.net." in superadmin_client.get("/dns/all.zone").content.decode()
    files = render(take_snapshot(), host_config())
    assert files["smtpd/domains"].decode().splitlines().count("example.net") == 1
    assert "mta-sts/example.net.txt" in files


def test_a_report_authorisation_is_listed_on_the_report_domains_own_page_when_managed_here(domain, other_domain):
    from domains.models import DomainPolicy

    DomainPolicy.objects.update_or_create(domain=domain, defaults={"dmarc_rua": "reports@other.example"})
    assert not [r for r in records_for(domain) if "_report._dmarc" in r.name]
    auth = [r for r in records_for(other_domain) if "_report._dmarc" in r.name]
    assert [(r.name, r.value, r.zone) for r in auth] == [("example.org._report._dmarc.other.example", "v=DMARC1", "")]
    assert "example.org._report._dmarc" in zone_text("other.example", records_for(other_domain))


def test_dmarc_leaves_out_pct_100_and_marks_a_partial_policy_as_testing():
    full = {r.name: r for r in expected_records(DomainDns("example.org"), HOST)}["_dmarc.example.org"]
    assert "pct" not in full.value and "t=" not in full.value  # RFC 9989 removed pct; 100 is the default
    partial = DomainDns("example.org", dmarc=(("p", "quarantine"), ("pct", "20")))
    value = {r.name: r for r in expected_records(partial, HOST)}["_dmarc.example.org"].value
    assert "pct=20" in value and "t=y" in value


def test_a_parked_domain_names_a_report_address_only_elsewhere_with_its_authorisation():
    records = expected_records(DomainDns("parked.example", parked=True, dmarc_rua="dmarc@example.org"), HOST)
    by_name = {r.name: r for r in records}
    assert by_name["_dmarc.parked.example"].value.endswith("; rua=mailto:dmarc@example.org")
    assert by_name["parked.example._report._dmarc.example.org"].value == "v=DMARC1"
