from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.forms import TextField, address_list
from accounts.models import User
from api.actions import NAME_MAX
from core.addresses import normalize_domain
from core.forms import PlainLabels
from domains.models import Domain

LIFETIMES = [("30", "30 days"), ("90", "90 days"), ("365", "a year"), ("", "never: until revoked")]


class TokenForm(PlainLabels, forms.Form):
    name = TextField(max_length=NAME_MAX, help_text="What uses it, such as “HR import” or “monitoring”.")
    writes = forms.TypedChoiceField(
        label="Access",
        choices=[("", "Read only"), ("yes", "Read and write")],
        coerce=bool,
        empty_value=False,
        required=False,
        widget=forms.RadioSelect,
    )
    all_domains = forms.TypedChoiceField(
        label="Domains",
        choices=[("yes", "All of my domains, now and later"), ("", "Only the domains named below")],
        coerce=bool,
        empty_value=False,
        required=False,
        initial="yes",
        widget=forms.RadioSelect,
    )
    domains = TextField(
        label="Only these domains",
        required=False,
        allow="\r\n",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Names separated by commas or new lines; their alias domains come with them.",
    )
    lifetime = forms.ChoiceField(label="Expires after", choices=LIFETIMES, initial="90", required=False)

    def __init__(self, *args, owner: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_domains(self) -> list[Domain]:
        names = address_list(self.cleaned_data["domains"], normalize_domain)
        mine = Domain.objects.managed_by(self.owner).filter(alias_of=None)
        found = {d.name: d for d in mine.filter(name__in=names)}
        # The same words whether the domain exists or not: a token form discloses no one's domains.
        if missing := [name for name in names if name not in found]:
            raise ValidationError(f"You do not manage {', '.join(missing)}.")
        return list(found.values())

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("all_domains", True) and not cleaned.get("domains") and "domains" not in self.errors:
            self.add_error("domains", "Name at least one domain, or choose all of your domains.")
        days = cleaned.get("lifetime")
        cleaned["expires_at"] = timezone.now() + timedelta(days=int(days)) if days else None
        return cleaned
