from django import forms

from core.addresses import normalize_domain
from core.forms import PlainLabels
from core.quota import QuotaField
from domains.models import Domain


class DomainForm(PlainLabels, forms.ModelForm):
    default_quota_mb = QuotaField(label="Default quota for new mailboxes")

    class Meta:
        model = Domain
        fields = ["name", "active", "default_quota_mb", "alias_of"]
        labels = {"name": "Domain name"}
        help_texts = {"alias_of": "Make this an alias domain: mail to any address here goes to the same address there."}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        targets = Domain.objects.filter(alias_of=None)
        if not self.instance._state.adding:
            del self.fields["name"]
            targets = targets.exclude(pk=self.instance.pk)
        self.fields["alias_of"].queryset = targets
        self.fields["alias_of"].empty_label = "(no, an ordinary domain)"

    def clean_name(self) -> str:
        return normalize_domain(self.cleaned_data["name"])

    def validate_unique(self) -> None:
        # The action checks uniqueness, naming the domain in its message.
        pass
