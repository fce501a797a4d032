from django.core.management.base import BaseCommand, CommandError

from accounts.usage import sync_usage
from export import helper_client


class Command(BaseCommand):
    help = (
        "Measure every mailbox's usage once through the helper (doveadm), for mailboxes Dovecot has "
        "not written a usage file for yet, then copy all usage into the database. Run it once after "
        "installing or upgrading; afterwards Dovecot keeps the files current itself."
    )

    def handle(self, **options) -> None:
        try:
            answer = helper_client.call({"op": "measure_usage"}, timeout=900)
        except helper_client.HelperError as e:
            raise CommandError(str(e)) from None
        if not answer.get("ok"):
            raise CommandError(f"the helper could not measure usage: {answer.get('error')}")
        updated, _ = sync_usage()
        self.stdout.write(
            f"measured {answer['measured']} mailboxes ({answer['written']} new usage files); "
            f"{updated} mailboxes updated in the database"
        )
