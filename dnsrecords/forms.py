from django import forms
from django.core.exceptions import ValidationError

from core.addresses import normalize_address, normalize_domain
from core.forms import PlainLabels
from dnsrecords import spf
from dnsrecords.data import parse_mx
from domains import dkim
from domains.actions import POLICY_FIELDS
from domains.models import DomainPolicy

_SPF_FINAL_ALL = "Write only the mechanisms; the final “all” is chosen below."


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
        """Each term by the SPF grammar (dnsrecords.spf), names a host can have, and no more DNS
        lookups than SPF allows: a record receivers would reject is never offered for pasting."""
        terms = self.cleaned_data["spf_mechanisms"].split()
        own_domain = self.instance.domain.name if self.instance.domain_id else ""
        problems, directives = [], []
        for text in terms:
            if text.lower().startswith((spf.VERSION, "redirect=")):
                raise ValidationError(_SPF_FINAL_ALL)
            try:
                term = spf.parse_term(text)
            except spf.SpfSyntaxError as e:
                problems.append(f"{e}.")
                continue
            if isinstance(term, spf.Modifier):
                problems.append(f"“{text}” is a modifier, not an SPF mechanism; write only mechanisms here.")
            elif term.mechanism == "all":
                raise ValidationError(_SPF_FINAL_ALL)
            elif problem := term.domain_spec and spf.host_name_problem(term.domain_spec):
                problems.append(f"“{text}”: {problem}.")
            elif term.mechanism == "include" and term.domain_spec.lower().rstrip(".") in ("%{d}", own_domain):
                problems.append(f"“{text}” includes this domain's own record, a loop receivers reject.")
            else:
                directives.append(term)
        if problems:
            raise ValidationError(problems)
        lookups = spf.lookups_needed(directives)
        if lookups > spf.MAX_LOOKUPS:
            raise ValidationError(f"{lookups} mechanisms need DNS lookups; SPF allows {spf.MAX_LOOKUPS} at most.")
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
