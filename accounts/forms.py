import re
import unicodedata
from collections.abc import Callable

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from accounts import mailpasswords, throttle
from accounts.models import Alias, Mailbox, User
from core.addresses import normalize_address, normalize_local_part
from core.forms import PlainLabels
from core.quota import QuotaField
from domains.models import Domain

# Control characters (Cc: NUL, tab, line breaks, escape…), invisible format characters (Cf: zero-width
# spaces and joiners, direction overrides, the byte-order mark, the soft hyphen) and the line and
# paragraph separators (Zl, Zp), which splitlines() and many parsers take for line breaks.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _describe(char: str) -> str:
    names = {"\t": "a tab", "\n": "a line break", "\r": "a line break", "\0": "a NUL byte", " ": "a space"}
    if char in names:
        return names[char]
    name = unicodedata.name(char, "").lower()
    if unicodedata.category(char) in _REFUSED_CATEGORIES:
        return f"the invisible character U+{ord(char):04X}" + (f" ({name})" if name else "")
    if not char.isascii():
        # A look-alike is what the reader cannot see: name it.
        return f"“{char}” (U+{ord(char):04X}" + (f", {name})" if name else ")")
    return f"“{char}”"


def refuse_control_characters(value: str, allowed: str = "") -> None:
    bad = next((c for c in value if c not in allowed and unicodedata.category(c) in _REFUSED_CATEGORIES), None)
    if bad is not None:
        raise ValidationError(f"This cannot contain {_describe(bad)}.", code="control_character")


class TextField(forms.CharField):
    """A CharField that refuses control and invisible characters anywhere in the value.

    Django's CharField strips whitespace, line breaks and tabs included, off the ends and keeps
    it inside, so `"Alice\\n"` would silently become `"Alice"`; here it is refused, with a message
    naming the character. Ordinary spaces at the ends are still stripped (unless strip=False).
    `allow` names characters a field takes on purpose: line breaks between addresses.
    """

    def __init__(self, *, allow: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.allow = allow

    def to_python(self, value: object) -> str | None:
        if isinstance(value, str):
            refuse_control_characters(value, self.allow)
        return super().to_python(value)


class QuotaTextField(TextField, QuotaField):
    """A quota ("2G"), refusing control characters as every text field here does."""


ADMIN_NAME_MAX = 150
_ADMIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ADMIN_NAME_CHAR = re.compile(r"[A-Za-z0-9._-]")


def clean_admin_name(value: str) -> str:
    """The name of a new admin, or ValidationError saying what is wrong. The admin form and the
    createadmin and firstadmin commands all create admins through this.

    Names are ASCII letters, digits, `.`, `_` and `-`, starting with a letter or digit, and may
    not equal an existing admin's name but for case (`ROOT` beside `root`). ASCII rather than a
    confusables table: it refuses every look-alike (Cyrillic `аdmin`, Greek `Αdmin`, full-width
    `ｒｏｏｔ`, invisible characters) outright instead of only those a table lists; admin names are
    sign-in handles chosen by an operator, not names shown to people, and the mail addresses
    beside them are ASCII already. Spaces at the ends are stripped, as the form does.
    """
    name = value.strip(" ")
    if not name:
        raise ValidationError("Enter an admin name.", code="required")
    if "@" in name:
        raise ValidationError("An admin name cannot contain @: addresses sign in mailbox users.", code="at_sign")
    if not _ADMIN_NAME.fullmatch(name):
        bad = next((c for c in name if not _ADMIN_NAME_CHAR.fullmatch(c)), None)
        if bad is None:
            raise ValidationError("An admin name must start with a letter or a digit.", code="first_character")
        raise ValidationError(
            f"An admin name cannot contain {_describe(bad)}: use letters a–z and A–Z, digits, “.”, “-” and “_”.",
            code="invalid_character",
        )
    if len(name) > ADMIN_NAME_MAX:
        raise ValidationError(f"An admin name can have at most {ADMIN_NAME_MAX} characters.", code="too_long")
    existing = list(User.objects.filter(username__iexact=name).values_list("username", flat=True))
    if name in existing:
        raise ValidationError(f"There is already an admin called {name}.", code="exists")
    if existing:
        raise ValidationError(
            f"“{name}” differs from the admin {existing[0]} only in case: choose a name nobody can mistake for it.",
            code="look_alike",
        )
    return name


def address_list(text: str, normalize: Callable[[str], str] = normalize_address) -> list[str]:
    """Addresses separated by commas or line breaks, normalised, each once; every bad one named.
    With another `normalize`, other names the same way (api.forms: domain names)."""
    found: list[str] = []
    errors: list[ValidationError] = []
    for item in filter(None, (part.strip() for part in text.replace(",", "\n").splitlines())):
        try:
            address = normalize(item)
        except ValidationError as e:
            errors.append(e)
            continue
        if address not in found:
            found.append(address)
    if errors:
        raise ValidationError(errors)
    return found


class LoginForm(PlainLabels, forms.Form):
    username = TextField(
        label="Email address or admin name",
        max_length=320,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    # Not a TextField: it is only compared with a hash, and refusing a character would lock out a
    # password set before the rule, typed correctly. (Django still refuses a NUL byte.)
    password = forms.CharField(strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class NewPasswordMixin:
    """Two password fields that must match and pass Django's password validators."""

    password_required = True

    def add_password_fields(self) -> None:
        self.fields["password1"] = TextField(
            label="Password",
            strip=False,
            required=self.password_required,
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
            help_text=password_validation.password_validators_help_text_html(),
        )
        self.fields["password2"] = TextField(
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
        try:
            password_validation.validate_password(password1, user_like)
        except ValidationError as e:
            self.add_error("password1", e)
            return ""
        return password1


class MailboxForm(NewPasswordMixin, PlainLabels, forms.ModelForm):
    """Creates a mailbox (password required) or edits one (a password typed in resets it)."""

    quota_mb = QuotaTextField(label="Quota")

    class Meta:
        model = Mailbox
        fields = ["local_part", "display_name", "quota_mb", "active"]
        field_classes = {"local_part": TextField, "display_name": TextField}
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
    destinations = TextField(
        allow="\r\n",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One or more addresses, separated by commas or new lines: mailboxes here or anywhere else.",
    )

    class Meta:
        model = Alias
        fields = ["local_part", "destinations", "active"]
        field_classes = {"local_part": TextField}
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
        destinations = address_list(self.cleaned_data["destinations"])
        if not destinations:
            raise ValidationError("Enter at least one destination address.")
        local_part = self.cleaned_data.get("local_part", self.instance.local_part)
        if f"{local_part}@{self.domain.name}" in destinations:
            raise ValidationError("An alias cannot deliver to itself.")
        return destinations

    def validate_unique(self) -> None:
        pass


class SelfServicePasswordForm(NewPasswordMixin, PlainLabels, forms.Form):
    # Not a TextField, like the sign-in password: it is only compared with the stored hash.
    current_password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, *args, mailbox: Mailbox, attempt: throttle.Attempt, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mailbox = mailbox
        self.attempt = attempt
        self.add_password_fields()
        self.fields["password1"].label = "New password"
        self.fields["password2"].label = "New password again"

    def clean_current_password(self) -> str:
        # A session left open must not let anyone guess the password behind it: guesses count,
        # and lock, exactly as failed sign-ins of this mailbox do.
        if wait := throttle.seconds_locked(self.attempt):
            raise ValidationError(throttle.locked_message(wait), code="locked")
        password = self.cleaned_data["current_password"]
        if not mailpasswords.check_hash(password, self.mailbox.password_hash):
            throttle.record_failure(self.attempt, account_exists=True)
            raise ValidationError("This is not your current password.", code="wrong_password")
        throttle.forget_account(self.attempt)  # as a sign-in does
        return password

    def clean(self) -> dict:
        cleaned = super().clean()
        cleaned["password"] = self.clean_new_password(self.mailbox)
        if cleaned["password"] and cleaned["password"] == cleaned.get("current_password"):
            self.add_error("password1", "The new password must differ from the current one.")
        return cleaned


class AdminForm(NewPasswordMixin, PlainLabels, forms.Form):
    username = TextField(max_length=ADMIN_NAME_MAX)
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
        return clean_admin_name(self.cleaned_data["username"])

    def clean(self) -> dict:
        cleaned = super().clean()
        probe = self.admin or User(username=cleaned.get("username", ""))
        cleaned["password"] = self.clean_new_password(probe)
        return cleaned


class PostmasterForm(PlainLabels, forms.Form):
    address = TextField(
        label="Postmaster address",
        max_length=320,
        help_text=(
            "Every domain's postmaster@ and abuse@ deliver here, unless the domain has its own "
            "(an alias or a mailbox with that name). A mailbox on this host, or an address elsewhere."
        ),
    )


class VacationForm(PlainLabels, forms.Form):
    enabled = forms.BooleanField(label="Send an automatic reply", required=False)
    subject = TextField(max_length=200, required=False, help_text="Empty: “Auto: ” and the subject of the message.")
    body = TextField(
        label="Reply", required=False, allow="\n\r\t", widget=forms.Textarea(attrs={"rows": 5}), max_length=5000
    )
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="Until", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    days = forms.IntegerField(label="Days between replies to the same sender", min_value=1, max_value=30, initial=7)


class ForwardingForm(PlainLabels, forms.Form):
    destinations = TextField(
        label="Forward to",
        required=False,
        allow="\n\r",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One or more addresses, separated by commas or new lines. Empty: no forwarding.",
    )
    keep_copy = forms.BooleanField(label="Keep a copy here", required=False, initial=True)

    def clean_destinations(self) -> list[str]:
        return address_list(self.cleaned_data["destinations"])
