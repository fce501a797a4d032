import json
import os

from django.conf import settings
from django.core.management.base import BaseCommand

from core.mailhost import host_config

# Debian 12 with systemd: what the helper runs to check and to reload each daemon.
PRODUCTION_CHECKS = {
    "smtpd": ["smtpd", "-n", "-f", "{smtpd_conf}"],
    "dovecot": ["doveconf", "-n", "-c", "{dovecot_conf}"],
    "rspamd": ["rspamadm", "--var=LOCAL_CONFDIR={rspamd_confdir}", "configtest", "-c", "/etc/rspamd/rspamd.conf"],
}
PRODUCTION_RELOADS = {
    "dovecot": ["doveadm", "reload"],
    "smtpd_table": ["smtpctl", "update", "table", "{table}"],
    "smtpd_restart": ["systemctl", "restart", "opensmtpd"],
    "rspamd": ["systemctl", "reload", "rspamd"],
}

# What only root may read, for the panel: each user's usage (to seed the files Dovecot keeps)
# and the mail queue.
PRODUCTION_QUERIES = {
    "quota_all": ["doveadm", "-f", "tab", "quota", "get", "-A"],
    "quota_user": ["doveadm", "-f", "tab", "quota", "get", "-u", "{user}"],
    "queue": ["smtpctl", "show", "queue"],
}


class Command(BaseCommand):
    help = "Print the privileged helper's configuration (JSON) for these settings."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--production", action="store_true", help="check with the daemons' checkers and reload them"
        )
        parser.add_argument("--panel-uid", type=int, default=os.getuid(), help="the uid the panel runs as")

    def handle(self, production: bool, panel_uid: int, **options) -> None:
        config = {
            "root": str(settings.EXPORT_ROOT),
            "staging": str(settings.STAGING_DIR),
            "socket": str(settings.HELPER_SOCKET),
            "allowed_uids": [panel_uid],
            "privileged": production,
            "keep_generations": 5,
            "check": PRODUCTION_CHECKS if production else {},
            "reload": PRODUCTION_RELOADS if production else {},
            "query": PRODUCTION_QUERIES if production else {},
            "usage": {"dir": host_config().usage_dir, "user": "vmail"},
        }
        if production:
            config["socket_group"] = "mailadmin"
        self.stdout.write(json.dumps(config, indent=2))
