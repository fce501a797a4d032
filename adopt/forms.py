from django import forms

from adopt.findings import Paths
from core.forms import PlainLabels

MAX_UPLOAD = 16 * 1024 * 1024
DEFAULTS = Paths()


class UploadForm(PlainLabels, forms.Form):
    file = forms.FileField(
        label="Archive of the host's files",
        help_text=f"A tar archive (gzip, bzip2 or xz), at most {MAX_UPLOAD // 1024 // 1024} MB. Nothing is written yet.",
        widget=forms.ClearableFileInput(attrs={"accept": ".tar,.tgz,.gz,.bz2,.xz,application/gzip,application/x-tar"}),
        error_messages={"required": "Choose the archive of the host's files."},
    )
    # Empty: Debian's place, as the guide leaves them.
    smtpd_conf = forms.CharField(label="OpenSMTPD's configuration", required=False, max_length=255)
    dovecot_conf = forms.CharField(label="Dovecot's configuration", required=False, max_length=255)
    dkim_signing = forms.CharField(label="Rspamd's DKIM signing", required=False, max_length=255)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("smtpd_conf", "dovecot_conf", "dkim_signing"):
            self.fields[name].widget.attrs["placeholder"] = getattr(DEFAULTS, name)

    def clean(self) -> dict:
        data = super().clean()
        for name in ("smtpd_conf", "dovecot_conf", "dkim_signing"):
            data[name] = data.get(name) or getattr(DEFAULTS, name)
            if not data[name].startswith("/"):
                self.add_error(name, "Give the path as the host names it, from / (for example /etc/smtpd.conf).")
        return data

    def paths(self) -> Paths:
        return Paths(
            self.cleaned_data["smtpd_conf"], self.cleaned_data["dovecot_conf"], self.cleaned_data["dkim_signing"]
        )
