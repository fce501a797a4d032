"""A per-domain count of changes to the order of its mailboxes, kept by triggers
(accounts.models.MailboxOrderVersion says why)."""

from django.db import migrations, models

SQLITE = [
    """CREATE TRIGGER accounts_mailbox_order_insert AFTER INSERT ON accounts_mailbox BEGIN
    INSERT INTO accounts_mailboxorderversion (domain_id, version) VALUES (NEW.domain_id, 1)
    ON CONFLICT (domain_id) DO UPDATE SET version = version + 1;
END""",
    """CREATE TRIGGER accounts_mailbox_order_delete AFTER DELETE ON accounts_mailbox BEGIN
    INSERT INTO accounts_mailboxorderversion (domain_id, version) VALUES (OLD.domain_id, 1)
    ON CONFLICT (domain_id) DO UPDATE SET version = version + 1;
END""",
    """CREATE TRIGGER accounts_mailbox_order_update AFTER UPDATE OF domain_id, local_part, fill_permille
ON accounts_mailbox
WHEN OLD.domain_id IS NOT NEW.domain_id OR OLD.local_part IS NOT NEW.local_part
    OR OLD.fill_permille IS NOT NEW.fill_permille
BEGIN
    INSERT INTO accounts_mailboxorderversion (domain_id, version) VALUES (OLD.domain_id, 1)
    ON CONFLICT (domain_id) DO UPDATE SET version = version + 1;
    INSERT INTO accounts_mailboxorderversion (domain_id, version) VALUES (NEW.domain_id, 1)
    ON CONFLICT (domain_id) DO UPDATE SET version = version + 1;
END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS accounts_mailbox_order_insert",
    "DROP TRIGGER IF EXISTS accounts_mailbox_order_delete",
    "DROP TRIGGER IF EXISTS accounts_mailbox_order_update",
]

POSTGRESQL = [
    """CREATE FUNCTION accounts_mailbox_order_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO accounts_mailboxorderversion AS t (domain_id, version) VALUES (OLD.domain_id, 1)
        ON CONFLICT (domain_id) DO UPDATE SET version = t.version + 1;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO accounts_mailboxorderversion AS t (domain_id, version) VALUES (NEW.domain_id, 1)
        ON CONFLICT (domain_id) DO UPDATE SET version = t.version + 1;
    END IF;
    RETURN NULL;
END
$$""",
    """CREATE TRIGGER accounts_mailbox_order_insert_delete AFTER INSERT OR DELETE ON accounts_mailbox
FOR EACH ROW EXECUTE FUNCTION accounts_mailbox_order_changed()""",
    """CREATE TRIGGER accounts_mailbox_order_update AFTER UPDATE OF domain_id, local_part, fill_permille
ON accounts_mailbox FOR EACH ROW
WHEN (OLD.domain_id IS DISTINCT FROM NEW.domain_id OR OLD.local_part IS DISTINCT FROM NEW.local_part
      OR OLD.fill_permille IS DISTINCT FROM NEW.fill_permille)
EXECUTE FUNCTION accounts_mailbox_order_changed()""",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS accounts_mailbox_order_insert_delete ON accounts_mailbox",
    "DROP TRIGGER IF EXISTS accounts_mailbox_order_update ON accounts_mailbox",
    "DROP FUNCTION IF EXISTS accounts_mailbox_order_changed()",
]


def run(statements: dict[str, list[str]]):
    def operation(apps, schema_editor):
        for statement in statements[schema_editor.connection.vendor]:
            schema_editor.execute(statement, params=None)

    return operation


class Migration(migrations.Migration):
    dependencies = [("accounts", "0010_mailbox_home")]

    operations = [
        migrations.CreateModel(
            name="MailboxOrderVersion",
            fields=[
                ("domain", models.BigIntegerField(db_column="domain_id", primary_key=True, serialize=False)),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(
            run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            run({"sqlite": SQLITE_DROP, "postgresql": POSTGRESQL_DROP}),
        ),
    ]
