from django import forms
from django.core.exceptions import ValidationError

from accounts.forms import TextField
from core.forms import PlainLabels
from domains.models import Domain
from factors import recovery, totp

# A browser's answer is a few kilobytes at most; anything far longer is refused unread.
CREDENTIAL_MAX = 64 * 1024
NO_ANSWER = "Your browser sent no passkey. Passkeys need JavaScript and a browser that supports them."


class CredentialField(TextField):
    """The JSON a browser's navigator.credentials answer was turned into by static/js/passkeys.js."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", CREDENTIAL_MAX)
        kwargs.setdefault("widget", forms.HiddenInput)
        kwargs.setdefault("error_messages", {"required": NO_ANSWER})
        super().__init__(**kwargs)


class PasskeyForm(PlainLabels, forms.Form):
    name = TextField(
        label="Name of the passkey",
        max_length=60,
        initial="Passkey",
        help_text="So that you can tell your passkeys apart: “Phone”, “Laptop”, “Security key”.",
    )
    credential = CredentialField()


class PasskeyAnswerForm(forms.Form):
    credential = CredentialField()


class TotpCodeForm(PlainLabels, forms.Form):
    code = TextField(
        label="Code from your authenticator app",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )

    def clean_code(self) -> str:
        code = totp.normalize_code(self.cleaned_data["code"])
        if code is None:
            raise ValidationError("Enter the 6 digits your app shows.", code="format")
        return code


class RecoveryCodeForm(PlainLabels, forms.Form):
    code = TextField(label="Recovery code", max_length=40, widget=forms.TextInput(attrs={"autocomplete": "off"}))

    def clean_code(self) -> str:
        code = recovery.normalize(self.cleaned_data["code"])
        if code is None:
            raise ValidationError("A recovery code has 12 letters and digits, like ABCD-EFGH-JKMN.", code="format")
        return code


class PasswordlessForm(PlainLabels, forms.Form):
    passwordless = forms.BooleanField(
        label="Sign in with a passkey alone",
        required=False,
        help_text="Your passkey then stands for your password too: it asks for your PIN, fingerprint or face.",
    )


class PolicyForm(PlainLabels, forms.Form):
    all_admins = forms.BooleanField(label="Every admin must have a second factor", required=False)
    domains = forms.ModelMultipleChoiceField(
        label="The admins of these domains must have one",
        queryset=Domain.objects.filter(alias_of=None),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class ConfirmPasswordForm(PlainLabels, forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
