from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from accounts import mailpasswords
from accounts.models import Alias, Mailbox, User
from core.addresses import normalize_address, normalize_local_part
from core.forms import PlainLabels
from core.quota import QuotaField
from domains.models import Domain


class LoginForm(PlainLabels, forms.Form):
    username = forms.CharField(
        label="Email address or admin name",
        max_length=320,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class NewPasswordMixin:
    """Two password fields that must match and pass Django's password validators."""

    password_required = True

    def add_password_fields(self) -> None:
        self.fields["password1"] = forms.CharField(
            label="Password",
            strip=False,
            required=self.password_required,
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
            help_text=password_validation.password_validators_help_text_html(),
        )
        self.fields["password2"] = forms.CharField(
            label="Password again",
            strip=False,
            required=self.password_required,
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        )

    def clean_new_password(self, user_like) -> str:
        password1 = self.cleaned_data.get("password1") or ""
        password2 = self.cleaned_data.get("password2") or ""
        if not password1 and not password2:
            return ""
        if password1 != password2:
            self.add_error("password2", "The two passwords differ.")
            return ""
        if "\0" in password1:
            self.add_error("password1", "A password cannot contain a NUL byte.")
            return ""
        try:
            password_validation.validate_password(password1, user_like)
        except ValidationError as e:
            self.add_error("password1", e)
            return ""
        return password1


class MailboxForm(NewPasswordMixin, PlainLabels, forms.ModelForm):
    """Creates a mailbox (password required) or edits one (a password typed in resets it)."""

    quota_mb = QuotaField(label="Quota")

    class Meta:
        model = Mailbox
        fields = ["local_part", "display_name", "quota_mb", "active"]
        labels = {"local_part": "Address"}

    def __init__(self, *args, domain: Domain, **kwargs) -> None:
        # Distinct ids: the add form and several inline edit forms can share one page.
        instance = kwargs.get("instance")
        kwargs.setdefault("auto_id", f"mailbox-{instance.pk if instance else 'new'}-%s")
        super().__init__(*args, **kwargs)
        self.domain = domain
        self.password_required = self.instance._state.adding
        self.add_password_fields()
        if self.instance._state.adding:
            self.fields["quota_mb"].initial = domain.default_quota_mb
        else:
            del self.fields["local_part"]
            self.fields["password1"].label = "New password"
            self.fields["password1"].help_text = "Leave empty to keep the current password."
            self.fields["password2"].label = "New password again"

    def clean_local_part(self) -> str:
        return normalize_local_part(self.cleaned_data["local_part"])

    def clean(self) -> dict:
        cleaned = super().clean()
        local_part = cleaned.get("local_part", self.instance.local_part)
        probe = Mailbox(domain=self.domain, local_part=local_part or "", display_name=cleaned.get("display_name", ""))
        cleaned["password"] = self.clean_new_password(probe)
        return cleaned

    def validate_unique(self) -> None:
        # Uniqueness across mailboxes and aliases is checked by the action, with a better message.
        pass


class AliasForm(PlainLabels, forms.ModelForm):
    destinations = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One or more addresses, separated by commas or new lines: mailboxes here or anywhere else.",
    )

    class Meta:
        model = Alias
        fields = ["local_part", "destinations", "active"]
        labels = {"local_part": "Address"}
        help_texts = {
            "local_part": "Leave empty for a catch-all: every address of the domain with no mailbox or alias."
        }

    def __init__(self, *args, domain: Domain, **kwargs) -> None:
        instance = kwargs.get("instance")
        kwargs.setdefault("auto_id", f"alias-{instance.pk if instance else 'new'}-%s")
        super().__init__(*args, **kwargs)
        self.domain = domain
        if not self.instance._state.adding:
            del self.fields["local_part"]
            self.initial["destinations"] = "\n".join(self.instance.destinations)

    def clean_local_part(self) -> str:
        value = self.cleaned_data["local_part"].strip()
        return normalize_local_part(value) if value else ""

    def clean_destinations(self) -> list[str]:
        raw = self.cleaned_data["destinations"].replace(",", "\n").splitlines()
        destinations: list[str] = []
        errors: list[ValidationError] = []
        for item in filter(None, (line.strip() for line in raw)):
            try:
                address = normalize_address(item)
            except ValidationError as e:
                errors.append(e)
                continue
            if address not in destinations:
                destinations.append(address)
        if errors:
            raise ValidationError(errors)
        if not destinations:
            raise ValidationError("Enter at least one destination address.")
        local_part = self.cleaned_data.get("local_part", self.instance.local_part)
        if f"{local_part}@{self.domain.name}" in destinations:
            raise ValidationError("An alias cannot deliver to itself.")
        return destinations

    def validate_unique(self) -> None:
        pass


class SelfServicePasswordForm(NewPasswordMixin, PlainLabels, forms.Form):
    current_password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, *args, mailbox: Mailbox, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mailbox = mailbox
        self.add_password_fields()
        self.fields["password1"].label = "New password"
        self.fields["password2"].label = "New password again"

    def clean_current_password(self) -> str:
        password = self.cleaned_data["current_password"]
        if not mailpasswords.check_hash(password, self.mailbox.password_hash):
            raise ValidationError("This is not your current password.")
        return password

    def clean(self) -> dict:
        cleaned = super().clean()
        cleaned["password"] = self.clean_new_password(self.mailbox)
        if cleaned["password"] and cleaned["password"] == cleaned.get("current_password"):
            self.add_error("password1", "The new password must differ from the current one.")
        return cleaned


class AdminForm(NewPasswordMixin, PlainLabels, forms.Form):
    username = forms.CharField(max_length=150)
    superadmin = forms.BooleanField(required=False, help_text="Superadmins manage every domain and every admin.")
    active = forms.BooleanField(required=False, initial=True)
    domains = forms.ModelMultipleChoiceField(
        queryset=Domain.objects.filter(alias_of=None),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The domains a domain admin manages.",
    )

    def __init__(self, *args, admin: User | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.admin = admin
        self.password_required = admin is None
        self.add_password_fields()
        if admin is not None:
            del self.fields["username"]
            self.fields["password1"].label = "New password"
            self.fields["password1"].help_text = "Leave empty to keep the current password."
            self.initial.update(
                superadmin=admin.is_superuser, active=admin.is_active, domains=list(admin.domains.all())
            )

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        if "@" in username:
            raise ValidationError("An admin name cannot contain @: addresses sign in mailbox users.")
        User.username_validator(username)
        return username

    def clean(self) -> dict:
        cleaned = super().clean()
        probe = self.admin or User(username=cleaned.get("username", ""))
        cleaned["password"] = self.clean_new_password(probe)
        return cleaned
