# The audit log became an app of its own (audit.AuditEntry). The table is renamed to the name
# Django gives the new model, and the model leaves this app's state; audit.0001 takes it over
# without touching the database, so existing entries stay where they are.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.AlterModelTable("auditentry", "audit_auditentry")],
            state_operations=[migrations.DeleteModel("auditentry")],
        ),
    ]
