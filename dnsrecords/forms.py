from django import forms
from django.core.exceptions import ValidationError

from core.addresses import normalize_address, normalize_domain
from core.forms import PlainLabels
from dnsrecords.data import parse_mx
from domains import dkim
from domains.actions import POLICY_FIELDS
from domains.models import DomainPolicy

_SPF_MECHANISM_NAMES = ("a", "mx", "ip4", "ip6", "include", "exists", "ptr")


class PolicyForm(PlainLabels, forms.ModelForm):
    class Meta:
        model = DomainPolicy
        fields = POLICY_FIELDS
        widgets = {"mx_hosts": forms.Textarea(attrs={"rows": 2})}

    def clean_mx_hosts(self) -> str:
        lines = []
        for line in filter(None, (line.strip() for line in self.cleaned_data["mx_hosts"].splitlines())):
            preference, _, host = line.partition(" ")
            if not preference.isdigit() or int(preference) > 65535 or not host.strip():
                raise ValidationError(f"“{line}”: write a preference (0–65535), a space and a host name.")
            try:
                host = normalize_domain(host.strip())
            except ValidationError as e:
                raise ValidationError(f"“{line}”: {e.messages[0]}") from None
            lines.append(f"{int(preference)} {host}")
        parse_mx("\n".join(lines))
        return "\n".join(lines)

    def clean_spf_mechanisms(self) -> str:
        terms = self.cleaned_data["spf_mechanisms"].split()
        for term in terms:
            name = term.lstrip("+-~?").split(":")[0].split("/")[0].lower()
            if name == "all" or term.lower().startswith(("redirect=", "v=spf1")):
                raise ValidationError("Write only the mechanisms; the final “all” is chosen below.")
            if name not in _SPF_MECHANISM_NAMES or not term.isascii() or any(c in term for c in '";\\'):
                raise ValidationError(f"“{term}” is not an SPF mechanism (a, mx, ip4:, ip6:, include:, exists:).")
        lookups = sum(
            1 for t in terms if t.lstrip("+-~?").split(":")[0].lower() in ("a", "mx", "include", "exists", "ptr")
        )
        if lookups > 10:
            raise ValidationError(f"{lookups} mechanisms need DNS lookups; SPF allows 10 at most.")
        return " ".join(terms) or "mx"

    def _report_address(self, field: str) -> str:
        value = self.cleaned_data[field].strip().removeprefix("mailto:")
        return normalize_address(value) if value else ""

    def clean_dmarc_rua(self) -> str:
        return self._report_address("dmarc_rua")

    def clean_dmarc_ruf(self) -> str:
        return self._report_address("dmarc_ruf")

    def clean_tlsrpt_rua(self) -> str:
        return self._report_address("tlsrpt_rua")

    def clean_dmarc_pct(self) -> int:
        pct = self.cleaned_data["dmarc_pct"]
        if not 0 <= pct <= 100:
            raise ValidationError("A percentage from 0 to 100.")
        return pct

    def clean_dmarc_fo(self) -> str:
        value = self.cleaned_data["dmarc_fo"].replace(" ", "")
        if not value or any(part not in ("0", "1", "d", "s") for part in value.split(":")):
            raise ValidationError("fo is 0, 1, d or s, or several joined with “:”.")
        return value

    def clean_mta_sts_max_age(self) -> int:
        value = self.cleaned_data["mta_sts_max_age"]
        if not 86400 <= value <= 31557600:
            raise ValidationError("max_age must be between a day (86400) and a year (31557600).")
        return value


class DkimKeyForm(PlainLabels, forms.Form):
    KINDS = [
        ("rsa-2048", "RSA 2048 (recommended)"),
        ("rsa-4096", "RSA 4096 (some DNS hosts cannot store it)"),
        ("ed25519", "Ed25519 (only beside an RSA key)"),
    ]
    kind = forms.ChoiceField(choices=KINDS, initial="rsa-2048")
    selector = forms.CharField(max_length=63, required=False, help_text="Empty: one based on today's date.")

    def clean(self) -> dict:
        cleaned = super().clean()
        kind = cleaned.get("kind", "rsa-2048")
        cleaned["algorithm"] = dkim.ED25519 if kind == "ed25519" else dkim.RSA
        cleaned["bits"] = 4096 if kind == "rsa-4096" else 2048
        return cleaned
