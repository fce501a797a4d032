"""Records as zone-file text (BIND syntax) and as what a registrar's web form wants."""

from dnsrecords.expected import ABSENT, Record


def txt_strings(value: str) -> str:
    """A TXT value as quoted strings of at most 255 bytes each (RFC 1035 character-strings)."""
    data = value.encode()
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    quoted = []
    for chunk in chunks:
        text = chunk.decode("ascii").replace("\\", "\\\\").replace('"', '\\"')
        quoted.append(f'"{text}"')
    return " ".join(quoted)


def zone_value(record: Record) -> str:
    return txt_strings(record.value) if record.type == "TXT" else record.value


def zone_text(origin: str, records: list[Record]) -> str:
    """The records that belong in the zone of `origin`; the others become comments naming their zone."""
    lines = [f"$ORIGIN {origin}.", f"$TTL {records[0].ttl if records else 3600}"]
    outside = []
    for record in records:
        if record.level == ABSENT:
            lines.append(f"; delete: {record.relative_to(origin)} {record.type} {zone_value(record)}")
        elif record.name == origin or record.name.endswith("." + origin):
            lines.append(f"{record.relative_to(origin):<32} {record.ttl:>6} IN {record.type:<5} {zone_value(record)}")
        else:
            outside.append(record)
    if outside:
        lines.append("; Records this domain needs in other zones (the mail host's, the report domain's, reverse DNS):")
        lines += [f"; {r.name}. {r.ttl} IN {r.type} {zone_value(r)}" for r in outside]
    return "\n".join(lines) + "\n"
