"""A per-domain count of changes to the order of its mailboxes, kept by SQLite triggers
(accounts.models.MailboxOrderVersion and accounts.ordertriggers say why)."""

from django.db import migrations, models

from accounts import ordertriggers


def create_triggers(apps, schema_editor):
    ordertriggers.ensure(schema_editor.connection.alias)


def drop_triggers(apps, schema_editor):
    ordertriggers.drop(schema_editor.connection.alias)


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
        migrations.RunPython(create_triggers, drop_triggers),
    ]
