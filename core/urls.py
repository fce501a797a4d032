class DomainNameConverter:
    """A domain name as stored: a lowercase A-label (letters, digits, hyphens, dots)."""

    regex = r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class LocalPartConverter(DomainNameConverter):
    """A local part as stored (core.addresses): lowercase letters, digits, . _ -."""

    regex = r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*"
