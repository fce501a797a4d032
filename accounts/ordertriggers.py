"""The SQLite triggers that keep MailboxOrderVersion (accounts.pages reads it).

SQLite remakes a table to alter it (a new table, the rows copied, the old one dropped), and
its triggers go with the old table: a later migration that alters accounts_mailbox would drop
these without a word. So they are created by migration 0011 and again, if missing, after
every migrate (AccountsConfig.ready connects `ensure`).

Only SQLite: its writers take turns (one write lock), so a counter row every writer of a domain
updates costs nothing more. On PostgreSQL the same row would make every write to a domain's
mailboxes wait for the others and let two bulk writers deadlock, so there the deep pages step
over the index with OFFSET instead (accounts.pages).
"""

from django.db import connections

_BUMP = (
    "INSERT INTO accounts_mailboxorderversion (domain_id, version) VALUES ({row}.domain_id, 1) "
    "ON CONFLICT (domain_id) DO UPDATE SET version = version + 1;"
)
TRIGGERS = {
    "accounts_mailbox_order_insert": f"AFTER INSERT ON accounts_mailbox BEGIN {_BUMP.format(row='NEW')} END",
    "accounts_mailbox_order_delete": f"AFTER DELETE ON accounts_mailbox BEGIN {_BUMP.format(row='OLD')} END",
    "accounts_mailbox_order_update": (
        "AFTER UPDATE OF domain_id, local_part, fill_permille ON accounts_mailbox "
        "WHEN OLD.domain_id IS NOT NEW.domain_id OR OLD.local_part IS NOT NEW.local_part "
        "OR OLD.fill_permille IS NOT NEW.fill_permille "
        f"BEGIN {_BUMP.format(row='OLD')} {_BUMP.format(row='NEW')} END"
    ),
}


def ensure(using: str = "default", **kwargs) -> None:
    """Create the triggers that are missing (a post_migrate receiver, and migration 0011)."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    if "accounts_mailboxorderversion" not in connection.introspection.table_names():
        return  # migrated to before 0011
    with connection.cursor() as cursor:
        for name, body in TRIGGERS.items():
            cursor.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")


def drop(using: str = "default") -> None:
    connection = connections[using]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for name in TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
