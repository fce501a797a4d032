"""What a backup or a move copies: every row the panel owns, as Django's serialized JSON."""

import io

from django.core.management import call_command
from django.db import connections, transaction

APPS = ["audit", "accounts", "domains", "dnsrecords", "export", "factors"]
# Pending changes are for the next apply of this installation only: a restore or a move renders
# all. The mailbox order versions are kept by triggers, which count again as the mailboxes come back.
LEFT_OUT = ["export.change", "accounts.mailboxorderversion"]


def dump(database: str = "default") -> str:
    """All of the panel's rows, read in one transaction so that they agree with each other."""
    output = io.StringIO()
    connection = connections[database]
    with transaction.atomic(using=database):
        if connection.vendor == "postgresql":
            connection.cursor().execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        call_command(
            "dumpdata",
            *APPS,
            "auth.group",
            exclude=LEFT_OUT,
            database=database,
            natural_foreign=True,
            stdout=output,
            verbosity=0,
        )
    return output.getvalue()
