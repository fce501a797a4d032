from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self) -> None:
        from accounts import ordertriggers

        # A migration that remakes accounts_mailbox on SQLite drops its triggers: make them again.
        post_migrate.connect(ordertriggers.ensure, sender=self, dispatch_uid="accounts_order_triggers")
