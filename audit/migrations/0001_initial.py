# Takes over accounts.AuditEntry (see accounts.0003): the table exists already, so this only
# tells Django's migration state about it.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0003_auditentry_moves_to_audit"),
        ("domains", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("actor_name", models.CharField(max_length=320)),
                        ("domain_name", models.CharField(blank=True, max_length=253)),
                        ("action", models.CharField(max_length=32)),
                        ("object_type", models.CharField(max_length=32)),
                        ("object_name", models.CharField(db_index=True, max_length=320)),
                        ("changes", models.JSONField(default=dict)),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "domain",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="domains.domain",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "audit entries",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [models.Index(fields=["domain", "-created_at"], name="audit_domain_recent")],
                    },
                ),
            ],
        ),
    ]
