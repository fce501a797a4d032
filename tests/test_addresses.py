"""What may become part of an address: anything a daemon's file could read differently is refused."""

import re

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from core.addresses import normalize_address, normalize_domain, normalize_local_part

HOSTILE_LOCAL_PARTS = {
    "al:ice": "cannot contain “:”",
    "al ice": "cannot contain a space",
    "al\tice": "cannot contain a tab",
    "al\nice": "cannot contain a line break",
    "alice\n": "cannot contain a line break",
    "al\rice": "cannot contain a line break",
    "al\0ice": "cannot contain a NUL byte",
    "al\x1bice": "control character U+001B",
    "al/ice": "cannot contain “/”",
    "al#ice": "cannot contain “#”",
    "al,ice": "cannot contain “,”",
    "al|ice": "cannot contain “|”",
    "al@ice": "only the part before the @",
    "al+ice": "reserved for sub-addressing",
    ".alice": "cannot start with a dot",
    "alice.": "cannot end with a dot",
    "al..ice": "two dots in a row",
    "a" * 65: "at most 64 characters",
    "älice": "cannot contain “ä”",
    "": "Enter the part before the @",
}


@pytest.mark.parametrize("value,message", HOSTILE_LOCAL_PARTS.items())
def test_it_refuses_hostile_local_parts_with_a_specific_message(value, message):
    with pytest.raises(ValidationError) as error:
        normalize_local_part(value)
    assert message in error.value.messages[0]


def test_it_lowercases_local_parts():
    assert normalize_local_part("Alice.Smith_2-x") == "alice.smith_2-x"


def test_it_allows_plus_in_destination_addresses_only():
    assert normalize_address("Bob+Lists@Example.COM") == "bob+lists@example.com"


HOSTILE_DOMAINS = {
    "exa mple.org": "cannot contain a space",
    "example.org\n": "cannot contain a line break",
    "exam:ple.org": "cannot contain “:”",
    "exam/ple.org": "cannot contain “/”",
    "exam#ple.org": "cannot contain “#”",
    ".example.org": "cannot start with a dot",
    "example..org": "two dots in a row",
    "example": "full domain name",
    "x" * 64 + ".org": "at most 63 characters",
    ("a" * 60 + ".") * 5 + "org": "at most 253 characters",
    "-example.org": "not a valid",
    "exa_mple.org": "not a valid",
    "192.168.0.1": "cannot be all digits",
    "xn--abc.org": "not a valid",
    "": "Enter a domain name",
}


@pytest.mark.parametrize("value,message", HOSTILE_DOMAINS.items())
def test_it_refuses_hostile_domains_with_a_specific_message(value, message):
    with pytest.raises(ValidationError) as error:
        normalize_domain(value)
    assert message in error.value.messages[0]


@pytest.mark.parametrize(
    "value,stored",
    [
        ("Example.ORG", "example.org"),
        ("example.org.", "example.org"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("münchen.de", "xn--mnchen-3ya.de"),
    ],
)
def test_it_stores_domains_as_lowercase_a_labels(value, stored):
    assert normalize_domain(value) == stored


SAFE_ADDRESS = re.compile(r"[a-z0-9._+=-]+@[a-z0-9.-]+")


@given(st.text())
def test_whatever_is_typed_an_accepted_address_is_plain_ascii_without_separators(text):
    try:
        address = normalize_address(text)
    except ValidationError:
        return
    assert SAFE_ADDRESS.fullmatch(address)
    local, domain = address.split("@")
    assert normalize_local_part(local, allow_plus=True) == local
    assert normalize_domain(domain) == domain
