from django import forms

from core.forms import PlainLabels
from domains.models import Domain
from transfer.csvformat import MAX_BYTES, MAX_LINES


class ImportForm(PlainLabels, forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8, at most {MAX_LINES:,} lines and {MAX_BYTES // 1024 // 1024} MB. Nothing is written yet.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        error_messages={"required": "Choose a CSV file to import."},
    )


class ExportForm(PlainLabels, forms.Form):
    domain = forms.ModelChoiceField(
        queryset=Domain.objects.none(), to_field_name="name", required=False, empty_label="All my domains"
    )
    hashes = forms.BooleanField(
        label="With password hashes",
        required=False,
        help_text="Lets the mailboxes keep their passwords when imported elsewhere. Whoever holds the file "
        "can try to guess the passwords offline: keep it as safe as the database.",
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["domain"].queryset = Domain.objects.managed_by(user)
        if not user.is_superuser:
            del self.fields["hashes"]
