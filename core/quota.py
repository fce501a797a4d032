"""Quotas as people write them ("2G", "500 MB", "unlimited") and as the panel stores them (MiB)."""

import re

from django import forms
from django.core.exceptions import ValidationError

_UNITS = {
    "": 1,
    "m": 1,
    "mb": 1,
    "mib": 1,
    "g": 1024,
    "gb": 1024,
    "gib": 1024,
    "t": 1024**2,
    "tb": 1024**2,
    "tib": 1024**2,
}
_QUOTA = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")
MAX_QUOTA_MB = 1024**3  # 1 PiB: beyond any single mailbox, and well inside a 32-bit field


def parse_quota(text: str) -> int:
    text = text.strip().lower()
    if text in ("", "0", "unlimited", "none"):
        return 0
    match = _QUOTA.fullmatch(text)
    if not match or match.group(2) not in _UNITS:
        raise ValidationError("Enter a size such as 500M, 2G or 1.5T, or 0 for unlimited.", code="invalid")
    exact = float(match.group(1)) * _UNITS[match.group(2)]
    if exact < 1:  # 0.5M would round to 0, which means unlimited
        raise ValidationError("The smallest quota is 1M; write 0 for unlimited.", code="too_small")
    megabytes = round(exact)
    if megabytes > MAX_QUOTA_MB:
        raise ValidationError("That quota is larger than any disk; the most is 1024T.", code="too_large")
    return megabytes


def fill_permille(used_bytes: int | None, quota_mb: int) -> int:
    """How full a mailbox is, in thousandths of its quota: -1 unknown, 0 unlimited, 1000 full."""
    if used_bytes is None:
        return -1
    if not quota_mb:
        return 0
    return min(used_bytes * 1000 // (quota_mb * 1024 * 1024), 2**31 - 1)


def format_bytes(size: int) -> str:
    """1536 -> "1.5K", 3 * 1024**3 -> "3G": the same units as quotas."""
    for unit, scale in (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.1f}{unit}".replace(".0" + unit, unit) if value < 10 else f"{value:.0f}{unit}"
    return f"{size}B"


def format_quota(megabytes: int) -> str:
    if not megabytes:
        return "unlimited"
    for unit, size in (("T", 1024**2), ("G", 1024)):
        if megabytes % size == 0 or megabytes >= 10 * size:
            value = megabytes / size
            return f"{value:g}{unit}" if megabytes % size == 0 else f"{value:.1f}{unit}"
    return f"{megabytes}M"


class QuotaField(forms.CharField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "For example 500M or 2G; 0 means unlimited.")
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return format_quota(value) if isinstance(value, int) else value

    def to_python(self, value) -> int:
        if isinstance(value, int):
            return value
        return parse_quota(super().to_python(value) or "")
