"""SPF terms by the RFC 7208 grammar, held against the reference implementation (pyspf), and
the policy form that refuses what receivers would reject. Live evaluation: tests/dns."""

import pytest
import spf as pyspf  # the reference implementation, a test-only dependency

from dnsrecords import spf
from dnsrecords.data import policy_for
from dnsrecords.forms import PolicyForm
from tests.helpers import POLICY_FORM

GOOD_TERMS = [
    "ip4:192.0.2.0/24",
    "ip4:192.0.2.1",
    "ip4:0.0.0.0/0",
    "ip6:2001:db8::/32",
    "ip6:::ffff:192.0.2.1",
    "ip6:1:2:3:4:5:6:7::",
    "a",
    "a/24",
    "a//64",
    "a:mail.example.com.",
    "A:Mail.Example.ORG",
    "mx",
    "mx:example.org//64",
    "mx:example.org/24//64",
    "mx:%{d}/27",
    "include:_spf.example.com",
    "include:xn--80ak6aa92e.xn--p1ai",
    "exists:%{i}._spf.%{d}",
    "exists:%{ir}.%{v}._spf.%{d2}",
    "exists:%{l2r+-}.user.%{d2}",
    "exists:%{I}.%{H}.example",
    "ptr",
    "ptr:example.org",
    "+mx",
    "-ip4:1.2.3.4",
    "?a",
    "~include:x.example",
    "IP4:192.0.2.1",
    "all",
    "-all",
    "exp=explain.%{d}",
    "redirect=_spf.example.com",
    "foo=bar",
    "foo=",
    "a=b",  # an unknown modifier named a, not the a mechanism
    "include:-bad.example",  # grammatical, though no host has that name: the form refuses it
]

BAD_TERMS = [
    "ip4:300.1.1.1/40",
    "ip4:not-an-ip",
    "ip4:1.2.03.4",
    "ip4:1.2.3.4/33",
    "ip4:1.2.3.4/01",
    "ip4:1.2.3.4//64",
    "ip4",
    "ip6:zzzz::1",
    "ip6:::1/129",
    "ip6:::1//64",
    "ip6:fe80::1%eth0",
    "include:",
    "include",
    "include:x.example/24",
    "a:",
    "a:bad_host!",
    "a/33",
    "a//129",
    "a/",
    "a:1.2.3.4",
    "a:example.com:8080",
    "a:%{c}.example.org",
    "a:%{x}.example.org",
    "a:foo%bar.example",
    "a:%{d",
    "mx:example.123",
    "ptr:example.org/24",
    "exists",
    "exists:",
    "foo:bar",
    "ipv4:192.0.2.1",
    "all:x",
    "--all",
    "=a",
    "redirect=",
    "exp=",
    "exp=%{c}.example.org",
    "moo=%{c}",
]


def reference_accepts(term: str, monkeypatch: pytest.MonkeyPatch) -> bool:
    """pyspf parses every term of a record before it evaluates any; "-all" first makes the
    verdict "fail" unless a term is malformed ("permerror"). No DNS: every lookup finds nothing."""
    monkeypatch.setattr(pyspf, "DNSLookup", lambda name, qtype, strict=True, timeout=None: [])
    query = pyspf.query(i="192.0.2.1", s="postmaster@example.org", h="mail.example.org")
    return query.check(spf=f"v=spf1 -all {term}")[0] != "permerror"


def accepts(term: str) -> bool:
    try:
        spf.parse_term(term)
    except spf.SpfSyntaxError:
        return False
    return True


@pytest.mark.parametrize("term", GOOD_TERMS)
def test_it_accepts_a_term_the_reference_implementation_accepts(term, monkeypatch):
    assert reference_accepts(term, monkeypatch)
    assert accepts(term)


@pytest.mark.parametrize("term", BAD_TERMS)
def test_a_malformed_term_is_refused_as_the_reference_implementation_refuses_it(term, monkeypatch):
    assert not reference_accepts(term, monkeypatch)
    assert not accepts(term)


@pytest.mark.parametrize(
    "term",
    [
        "exists:%{d0}.x.example",  # RFC 7208 §7.3: "the value MUST be nonzero"; pyspf lets it by
        "-exists",  # exists needs its domain-spec (section 12); pyspf reads "-exists" as exists:<domain>
    ],
)
def test_it_is_stricter_than_the_reference_implementation_only_where_the_rfc_says_so(term, monkeypatch):
    assert reference_accepts(term, monkeypatch)
    assert not accepts(term)


@pytest.mark.parametrize(
    "term,message",
    [
        ("ip4:300.1.1.1/40", "“ip4:300.1.1.1/40”: 300.1.1.1 is not an IPv4 address (four numbers from 0 to 255"),
        ("ip4:not-an-ip", "not-an-ip is not an IPv4 address"),
        ("ip4:1.2.03.4", "write 1.2.03.4 without leading zeros"),
        ("ip4:1.2.3.4/33", "/33 is not an IPv4 prefix length (a number from 0 to 32"),
        ("ip6:zzzz::1", "zzzz::1 is not an IPv6 address (like 2001:db8::1)"),
        ("ip6:::1/129", "/129 is not an IPv6 prefix length (a number from 0 to 128"),
        ("ip4:1.2.3.4//64", "the //length form belongs to a and mx"),
        ("include:", "a domain name must follow “include:”"),
        ("a:", "a domain name must follow “a:” (or write a alone for the domain itself)"),
        ("a:bad_host!", "bad_host! is not a full domain name (like mail.example.com)"),
        ("a:1.2.3.4", "to allow the address itself, write ip4:1.2.3.4"),
        ("mx:example.123", "the last part of a domain name needs a letter"),
        ("foo:bar", "foo is not an SPF mechanism (they are all, include, a, mx, ptr, ip4, ip6, exists)"),
        ("ipv4:192.0.2.1", "did you mean ip4?"),
        ("ptr:example.org/24", "ptr takes no /length"),
        ("a:%{c}.example.org", "%{c} may appear only in an explanation's text"),
        ("a:foo%bar.example", "%b is not an SPF macro: write %% for a percent sign"),
        ("exists:%{d0}.x.example", "the number of parts to keep must be at least 1"),
        ("a:exämple.org", "“ä” cannot appear in SPF"),
    ],
)
def test_a_malformed_term_gets_a_message_that_says_what_to_fix(term, message):
    with pytest.raises(spf.SpfSyntaxError) as error:
        spf.parse_term(term)
    assert message in str(error.value)


def test_it_parses_what_the_evaluator_needs():
    dual = spf.parse_term("~mx:example.org/24//64")
    assert (dual.result, dual.mechanism, dual.domain_spec, dual.cidr4, dual.cidr6) == (
        "softfail",
        "mx",
        "example.org",
        24,
        64,
    )
    assert str(spf.parse_term("ip4:192.0.2.77/24").network) == "192.0.2.0/24"
    assert spf.parse_term("Exp=explain.%{d}") == spf.Modifier("Exp=explain.%{d}", "exp", "explain.%{d}")


def test_a_record_may_name_redirect_and_exp_only_once():
    assert len(spf.parse_record("v=spf1  mx   redirect=_spf.example.com ")) == 2
    with pytest.raises(spf.SpfSyntaxError, match="redirect= may appear only once"):
        spf.parse_record("v=spf1 redirect=a.example redirect=b.example")
    with pytest.raises(spf.SpfSyntaxError, match="starts with v=spf1"):
        spf.parse_record("v=spf10 mx")


def test_it_counts_the_lookups_of_rfc_7208_section_4_6_4():
    terms = spf.parse_record("v=spf1 a mx ptr exists:%{i}.x.example include:a.example ip4:192.0.2.1 redirect=b.example")
    assert spf.lookups_needed(terms) == 6
    assert spf.MAX_LOOKUPS == 10 and set(spf.LOOKUP_MECHANISMS) == {"include", "a", "mx", "ptr", "exists"}


def test_it_selects_spf_records_as_receivers_do():
    assert spf.select_records(["v=spf1 mx -all", "v=spf10 mx", "V=SPF1", "google-site-verification=x"]) == [
        "v=spf1 mx -all",
        "V=SPF1",
    ]


# --- the policy form ----------------------------------------------------------------------------


def policy_form(domain, mechanisms: str) -> PolicyForm:
    data = POLICY_FORM | {"spf_mechanisms": mechanisms}
    return PolicyForm(data, instance=policy_for(domain))


@pytest.mark.parametrize(
    "mechanisms",
    [
        "mx",
        "a/24 mx:example.org/24//64 ip4:192.0.2.0/24 ip6:2001:db8::/32",
        "include:_spf.example.com exists:%{i}._spf.%{d} ptr +mx -ip4:1.2.3.4 ?a ~include:x.example",
        " ".join(f"include:i{n}.example" for n in range(10)),
    ],
)
def test_the_policy_form_accepts_good_mechanisms(domain, mechanisms):
    form = policy_form(domain, mechanisms)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["spf_mechanisms"] == mechanisms


@pytest.mark.parametrize(
    "mechanisms,message",
    [
        ("mx ip4:300.1.1.1/40", "“ip4:300.1.1.1/40”: 300.1.1.1 is not an IPv4 address"),
        ("ip6:zzzz::1", "zzzz::1 is not an IPv6 address"),
        ("include:", "a domain name must follow “include:”"),
        ("a:bad_host!", "bad_host! is not a full domain name"),
        ("ip4:1.2.3.4/33", "/33 is not an IPv4 prefix length"),
        ("include:-bad.example", "a part of a domain name cannot start or end with “-”"),
        ("a:mail..example.org", "has an empty part"),
        ("a:mail_relay!.example.org", "“mail_relay!” may hold only letters, digits, “-” and “_”"),
        ("exp=explain.%{d}", "is a modifier, not an SPF mechanism"),
        ("include:example.org", "includes this domain's own record"),
        ("include:%{d}", "includes this domain's own record"),
        ("mx -all", "the final “all” is chosen below"),
        ("mx redirect=_spf.example.com", "the final “all” is chosen below"),
        ("v=spf1 mx", "the final “all” is chosen below"),
        (" ".join(f"include:i{n}.example" for n in range(9)) + " a mx", "11 mechanisms need DNS lookups"),
    ],
)
def test_the_policy_form_refuses_what_receivers_would_reject(domain, mechanisms, message):
    form = policy_form(domain, mechanisms)
    assert not form.is_valid()
    assert any(message in error for error in form.errors["spf_mechanisms"]), form.errors


def test_the_policy_form_names_every_malformed_term_at_once(domain):
    form = policy_form(domain, "mx ip4:not-an-ip a: mx:example.123")
    assert not form.is_valid()
    assert [e.split(":")[0] for e in form.errors["spf_mechanisms"]] == ["“ip4", "“a", "“mx"]
