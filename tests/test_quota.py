"""Quotas as people write them, stored in MiB; nothing typed is silently read as unlimited."""

import pytest
from django.core.exceptions import ValidationError

from core.quota import format_quota, parse_quota


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("0", 0),
        ("unlimited", 0),
        ("500M", 500),
        ("2G", 2048),
        ("1.5G", 1536),
        ("1.5M", 2),
        ("1T", 1024**2),
        ("1 MB", 1),
    ],
)
def test_it_reads_sizes_as_people_write_them(typed, stored):
    assert parse_quota(typed) == stored


@pytest.mark.parametrize("typed", ["0.5M", "0.4", "0.0001G"])
def test_a_quota_below_one_megabyte_is_refused_not_saved_as_unlimited(typed):
    with pytest.raises(ValidationError, match="smallest quota is 1M; write 0 for unlimited"):
        parse_quota(typed)


def test_it_refuses_nonsense_and_sizes_beyond_any_disk():
    for typed in ["lots", "-1G", "2X", "1e9M"]:
        with pytest.raises(ValidationError):
            parse_quota(typed)
    with pytest.raises(ValidationError, match="larger than any disk"):
        parse_quota("2000T")


def test_it_shows_stored_quotas_back_in_whole_units():
    assert [format_quota(v) for v in (0, 500, 2048, 1536, 1024**2)] == ["unlimited", "500M", "2G", "1536M", "1T"]
