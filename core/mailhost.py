"""The mail host around the tables: names, addresses, ports and paths, from settings.

Production defaults are Debian 12's paths; tests point every path and port at a sandbox.
"""

from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings


@dataclass(frozen=True)
class HostConfig:
    hostname: str
    root: Path  # the export root: "/" in production
    listen: tuple[str, ...] = ("0.0.0.0", "::")
    smtp_port: int = 25
    submission_port: int = 587
    smtps_port: int = 465
    imap_port: int = 143
    imaps_port: int = 993
    tls_cert: str = "/etc/mailadmin/tls/fullchain.pem"
    tls_key: str = "/etc/mailadmin/tls/privkey.pem"
    # OpenSMTPD 7.4 runs mail.lmtp as its own user (measured: setresuid to opensmtpd), not as
    # the userbase's user, so that user must be able to open Dovecot's LMTP socket.
    lmtp_client_user: str = "opensmtpd"
    vmail_uid: int = 5000
    vmail_gid: int = 5000
    vmail_home: str = "/home/vmail"
    lmtp_socket: str = "/var/run/dovecot/lmtp"
    rspamd_url: str = "http://127.0.0.1:11333"
    filter_rspamd: str = "/usr/libexec/opensmtpd/filter-rspamd"
    relay_host: str = ""  # empty: deliver outbound mail straight to the recipients' MX
    sendmail: str = "/usr/sbin/sendmail"  # OpenSMTPD's, for Dovecot's vacation replies and forwards
    postmaster: str = ""
    # Dovecot writes each user's usage and last login here (setgid, vmail:<panel's group>, 2770).
    usage_dir: str = "/var/lib/mailadmin/usage"
    # Signs the SRS senders of forwarded mail; empty renders no SRS (only hand-made configs in tests).
    srs_key: str = field(default="", repr=False)
    # Only for private instances (tests): Dovecot's runtime directories and log file.
    dovecot_base_dir: str = ""
    dovecot_state_dir: str = ""
    dovecot_log_path: str = ""
    auth_failure_delay: str = "2 secs"
    auth_penalty: bool = True

    @property
    def current(self) -> str:
        """Where the installed generation is, as the daemons' configuration names it."""
        return str(self.root / "etc/mailadmin/current")


def host_config() -> HostConfig:
    return HostConfig(
        hostname=settings.MAIL_HOSTNAME, root=settings.EXPORT_ROOT, srs_key=settings.SRS_KEY, **settings.MAIL_HOST
    )
